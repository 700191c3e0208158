import type { EntityManager } from 'typeorm';
import type { FhirSearchRequest } from '@carerelay/fhir';
import type { RequestActor } from '../request-actor';
import { matchesOnPatientData, readableFilter } from './consent-access';
import { filterCondition, sortOrder } from './search-sql';
import { SqlParams } from './sql';
import {
  RESOURCE_COLUMNS,
  type ResourceRow,
  type StoredResource,
  toStored,
} from './stored-resource.model';

/** The SQL of searches: current, non-deleted resources the actor may read. */
export class SearchRepository {
  private readonly s: string;

  constructor(
    private readonly manager: EntityManager,
    private readonly actor: RequestActor,
    private readonly schema: string,
  ) {
    this.s = `"${schema}"`;
  }

  private async rows(sql: string, params: unknown[]): Promise<StoredResource[]> {
    return ((await this.manager.query(sql, params)) as ResourceRow[]).map(toStored);
  }

  /**
   * The conditions of a search: its type, current, readable by the actor (matched on patient data
   * when a filter looks at what redaction hides), and its filters.
   */
  private matching(request: FhirSearchRequest, p: SqlParams): string {
    // What a chain goes through is matched on its own data: a redacted Task is not enough.
    const readableTarget = (alias: string) =>
      readableFilter(this.actor, alias, p, this.schema, { matchedOnPatientData: true });
    return [
      `r.resource_type = ${p.add(request.resourceType)}`,
      'NOT r.deleted',
      // A sort key orders by the values it reads: like a filter, it may look at patient data.
      readableFilter(this.actor, 'r', p, this.schema, {
        matchedOnPatientData: matchesOnPatientData([...request.filters, ...request.sort]),
      }),
      ...request.filters.map((f) => filterCondition(f, this.schema, 'r', p, readableTarget)),
    ].join(' AND ');
  }

  /** The total and (unless `countOnly`) one page of the matches, in `_sort` order (sortOrder). */
  async page(
    request: FhirSearchRequest,
    options: { withTotal: boolean; countOnly: boolean },
  ): Promise<{ matches: StoredResource[]; total: number }> {
    const p = new SqlParams();
    const from = `FROM ${this.s}.resources r WHERE ${this.matching(request, p)}`;
    let total = -1;
    if (options.withTotal) {
      const [{ n }] = await this.manager.query(`SELECT count(*)::int AS n ${from}`, p.values);
      total = n as number;
    }
    if (options.countOnly) return { matches: [], total };
    const matches = await this.rows(
      `SELECT ${RESOURCE_COLUMNS} ${from} ORDER BY ${sortOrder(request.sort, this.schema, 'r', p)}
       LIMIT ${p.add(request.count)} OFFSET ${p.add(request.offset)}`,
      p.values,
    );
    return { matches, total };
  }

  /** The ids of the matches, at most `limit`. */
  async matchingIds(request: FhirSearchRequest, limit: number): Promise<string[]> {
    const p = new SqlParams();
    const rows = await this.manager.query(this.matchingIdsQuery(request, limit, p), p.values);
    return (rows as { id: string }[]).map((row) => row.id);
  }

  /** The statement of matchingIds, for a caller that runs it inside a larger one. */
  matchingIdsQuery(request: FhirSearchRequest, limit: number, p: SqlParams): string {
    return `SELECT r.id FROM ${this.s}.resources r WHERE ${this.matching(request, p)} ORDER BY r.id LIMIT ${p.add(limit)}`;
  }

  /** The references the search parameter `param` of these resources holds. */
  async referencesFrom(sourceType: string, sourceIds: string[], param: string): Promise<string[]> {
    const refs: { value_reference: string }[] = await this.manager.query(
      `SELECT DISTINCT value_reference FROM ${this.s}.search_index
       WHERE resource_type = $1 AND id = ANY($2::text[]) AND param = $3 AND value_reference IS NOT NULL`,
      [sourceType, sourceIds, param],
    );
    return refs.map((r) => r.value_reference);
  }

  /** These resources (`types[i]/ids[i]`), current and readable. */
  async readable(types: string[], ids: string[]): Promise<StoredResource[]> {
    const p = new SqlParams();
    return this.rows(
      `SELECT ${RESOURCE_COLUMNS} FROM ${this.s}.resources r
      WHERE (r.resource_type, r.id) IN (SELECT * FROM unnest(${p.add(types)}::text[], ${p.add(ids)}::text[]))
        AND NOT r.deleted AND ${readableFilter(this.actor, 'r', p, this.schema)}`,
      p.values,
    );
  }

  /** The readable `sourceType` resources whose `param` references one of `targets` (at most 1000). */
  async referencing(
    sourceType: string,
    param: string,
    targets: string[],
  ): Promise<StoredResource[]> {
    const p = new SqlParams();
    return this.rows(
      `SELECT ${RESOURCE_COLUMNS} FROM ${this.s}.resources r
      WHERE r.resource_type = ${p.add(sourceType)} AND NOT r.deleted
        AND EXISTS (SELECT 1 FROM ${this.s}.search_index si
          WHERE si.resource_type = r.resource_type AND si.id = r.id AND si.param = ${p.add(param)}
            AND si.value_reference = ANY(${p.add(targets)}::text[]))
        AND ${readableFilter(this.actor, 'r', p, this.schema)}
      ORDER BY r.last_updated, r.id LIMIT 1000`,
      p.values,
    );
  }
}
