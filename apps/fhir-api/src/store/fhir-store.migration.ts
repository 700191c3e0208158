import { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@carerelay/persistence';

/**
 * The versioned resource store: the current version of each resource, every version, the search
 * index of the current versions, and the keys of conditional creates (a unique constraint that
 * makes concurrent retries of the same conditional create converge on one resource).
 */
export class FhirStoreTables1732400000000 implements MigrationInterface {
  name = 'FhirStoreTables1732400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`
      CREATE TABLE "${s}".resources (
        resource_type text NOT NULL,
        id text NOT NULL,
        version_id integer NOT NULL,
        last_updated timestamptz NOT NULL,
        deleted boolean NOT NULL DEFAULT false,
        content jsonb NOT NULL,
        requester_org text,
        owner_org text,
        other_orgs text[] NOT NULL DEFAULT '{}',
        PRIMARY KEY (resource_type, id)
      )`);
    await queryRunner.query(
      `CREATE INDEX resources_type_updated ON "${s}".resources (resource_type, last_updated, id)`,
    );
    await queryRunner.query(
      `CREATE INDEX resources_requester_org ON "${s}".resources (requester_org)`,
    );
    await queryRunner.query(`CREATE INDEX resources_owner_org ON "${s}".resources (owner_org)`);
    await queryRunner.query(
      `CREATE INDEX resources_other_orgs ON "${s}".resources USING gin (other_orgs)`,
    );
    await queryRunner.query(`
      CREATE TABLE "${s}".resource_history (
        resource_type text NOT NULL,
        id text NOT NULL,
        version_id integer NOT NULL,
        last_updated timestamptz NOT NULL,
        deleted boolean NOT NULL,
        method text NOT NULL,
        content jsonb NOT NULL,
        requester_org text,
        owner_org text,
        other_orgs text[] NOT NULL DEFAULT '{}',
        PRIMARY KEY (resource_type, id, version_id)
      )`);
    await queryRunner.query(
      `CREATE INDEX resource_history_type_updated ON "${s}".resource_history (resource_type, last_updated)`,
    );
    await queryRunner.query(`
      CREATE TABLE "${s}".search_index (
        resource_type text NOT NULL,
        id text NOT NULL,
        param text NOT NULL,
        type text NOT NULL,
        system text,
        code text,
        value_string text,
        value_string_normalized text,
        value_reference text,
        value_date_start timestamptz,
        value_date_end timestamptz,
        value_number double precision,
        FOREIGN KEY (resource_type, id) REFERENCES "${s}".resources (resource_type, id)
          ON DELETE CASCADE
      )`);
    await queryRunner.query(
      `CREATE INDEX search_index_resource ON "${s}".search_index (resource_type, id)`,
    );
    await queryRunner.query(
      `CREATE INDEX search_index_token ON "${s}".search_index (resource_type, param, code)`,
    );
    await queryRunner.query(
      `CREATE INDEX search_index_reference ON "${s}".search_index (resource_type, param, value_reference)`,
    );
    await queryRunner.query(
      `CREATE INDEX search_index_string ON "${s}".search_index (resource_type, param, value_string_normalized text_pattern_ops)`,
    );
    await queryRunner.query(
      `CREATE INDEX search_index_date ON "${s}".search_index (resource_type, param, value_date_start, value_date_end)`,
    );
    await queryRunner.query(`
      CREATE TABLE "${s}".conditional_create_keys (
        resource_type text NOT NULL,
        query_key text NOT NULL,
        id text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (resource_type, query_key)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`DROP TABLE "${s}".conditional_create_keys`);
    await queryRunner.query(`DROP TABLE "${s}".search_index`);
    await queryRunner.query(`DROP TABLE "${s}".resource_history`);
    await queryRunner.query(`DROP TABLE "${s}".resources`);
  }
}
