import { MigrationInterface, QueryRunner } from 'typeorm';
import type { Resource } from '@medplum/fhirtypes';
import { schemaOf } from '@carerelay/persistence';
import {
  extractSearchIndex,
  SDOHCC_SEARCH_PARAMETERS,
  SUPPORTED_RESOURCE_TYPES,
  supportedSearchParameters,
} from '@carerelay/fhir';

/** Resources re-indexed per statement pair (one DELETE, one INSERT). */
const BATCH = 500;

/**
 * The parameters this migration starts indexing, by resource type: every composite (now
 * supported) and the IG's `ServiceRequest:pertains-to-goal` and `Group:characteristic-reference`.
 */
function newParameters(): Map<string, string[]> {
  const sdohcc = new Set(
    ['pertains-to-goal', 'characteristic-reference'].map(
      (code) => SDOHCC_SEARCH_PARAMETERS.find((p) => p.code === code)?.url,
    ),
  );
  const byType = new Map<string, string[]>();
  for (const type of SUPPORTED_RESOURCE_TYPES) {
    const codes = supportedSearchParameters(type)
      .filter((p) => p.type === 'composite' || sdohcc.has(p.url))
      .map((p) => p.code);
    if (codes.length > 0) byType.set(type, codes);
  }
  return byType;
}

/**
 * Composite search parameters: index rows of a composite's components carry the element they
 * come from (`composite_group`) and which component they are (`component`), so that a tuple is
 * matched on one element. The stored resources of the types concerned are re-indexed for the
 * parameters this version adds (the rows of the other parameters are unchanged). References are
 * normalised on FHIR_BASE_URL, as the running server does.
 */
export class FhirSearchIndexComposite1733200000000 implements MigrationInterface {
  name = 'FhirSearchIndexComposite1733200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(
      `ALTER TABLE "${s}".search_index ADD COLUMN composite_group integer, ADD COLUMN component smallint`,
    );
    const localBaseUrls = process.env.FHIR_BASE_URL ? [process.env.FHIR_BASE_URL] : [];
    for (const [type, params] of newParameters()) {
      let after = '';
      for (;;) {
        const rows: { id: string; content: Resource }[] = await queryRunner.query(
          `SELECT id, content FROM "${s}".resources
           WHERE resource_type = $1 AND NOT deleted AND id > $2 ORDER BY id LIMIT ${BATCH}`,
          [type, after],
        );
        if (rows.length === 0) break;
        after = rows[rows.length - 1].id;
        const index = rows.flatMap((row) =>
          extractSearchIndex(row.content, { localBaseUrls })
            .filter((entry) => params.includes(entry.param))
            .map((entry) => ({ ...entry, id: row.id })),
        );
        await queryRunner.query(
          `DELETE FROM "${s}".search_index WHERE resource_type = $1 AND id = ANY($2::text[]) AND param = ANY($3::text[])`,
          [type, rows.map((row) => row.id), params],
        );
        await queryRunner.query(
          `INSERT INTO "${s}".search_index (resource_type, id, param, type, system, code, value_string,
             value_string_normalized, value_reference, value_date_start, value_date_end, value_number,
             composite_group, component)
           SELECT $1, x.id, x.param, x.type, x.system, x.code, x.value_string, x.value_string_normalized,
             x.value_reference, x.value_date_start, x.value_date_end, x.value_number,
             x.composite_group, x.component
           FROM jsonb_to_recordset($2::jsonb) AS x(id text, param text, type text, system text, code text,
             value_string text, value_string_normalized text, value_reference text,
             value_date_start timestamptz, value_date_end timestamptz, value_number float8,
             composite_group integer, component integer)`,
          [type, JSON.stringify(index)],
        );
      }
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    const params = [...new Set([...newParameters().values()].flat())];
    await queryRunner.query(`DELETE FROM "${s}".search_index WHERE param = ANY($1::text[])`, [
      params,
    ]);
    await queryRunner.query(
      `ALTER TABLE "${s}".search_index DROP COLUMN composite_group, DROP COLUMN component`,
    );
  }
}
