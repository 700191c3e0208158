import { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@carerelay/persistence';

/** The EHR endpoint registry, the pull watermarks and intake log, and the push delivery queue. */
export class EhrConnectorTables1732600000000 implements MigrationInterface {
  name = 'EhrConnectorTables1732600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`
      CREATE TABLE "${s}".ehr_endpoints (
        id text PRIMARY KEY,
        organization_id text NOT NULL,
        base_url text NOT NULL UNIQUE,
        auth text NOT NULL CHECK (auth IN ('none', 'smart-backend')),
        token_url text,
        client_id text,
        private_jwk_file text,
        scope text,
        modes text[] NOT NULL,
        platform_owner_reference text NOT NULL,
        poll_interval_seconds integer NOT NULL DEFAULT 900,
        enabled boolean NOT NULL DEFAULT true,
        pull_watermark timestamptz,
        next_poll_at timestamptz NOT NULL DEFAULT now(),
        last_poll_at timestamptz,
        last_poll_error text,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(
      `CREATE INDEX ehr_endpoints_org ON "${s}".ehr_endpoints (organization_id)`,
    );
    await queryRunner.query(`
      CREATE TABLE "${s}".pulled_tasks (
        endpoint_id text NOT NULL REFERENCES "${s}".ehr_endpoints (id),
        ehr_task_id text NOT NULL,
        carerelay_task_id text NOT NULL,
        ehr_last_updated timestamptz,
        pulled_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (endpoint_id, ehr_task_id)
      )`);
    await queryRunner.query(`
      CREATE TABLE "${s}".push_tasks (
        task_id text PRIMARY KEY,
        endpoint_id text NOT NULL REFERENCES "${s}".ehr_endpoints (id),
        ehr_task_id text NOT NULL,
        delivered_version integer NOT NULL DEFAULT 0,
        delivered_at timestamptz
      )`);
    await queryRunner.query(`
      CREATE TABLE "${s}".push_deliveries (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        task_id text NOT NULL REFERENCES "${s}".push_tasks (task_id),
        version integer NOT NULL,
        task jsonb NOT NULL,
        changed_at timestamptz NOT NULL,
        state text NOT NULL DEFAULT 'pending'
          CHECK (state IN ('pending', 'delivered', 'superseded', 'parked')),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        last_error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        delivered_at timestamptz,
        UNIQUE (task_id, version)
      )`);
    await queryRunner.query(
      `CREATE INDEX push_deliveries_pending ON "${s}".push_deliveries (task_id, version) WHERE state = 'pending'`,
    );
    await queryRunner.query(
      `CREATE INDEX push_deliveries_parked ON "${s}".push_deliveries (id) WHERE state = 'parked'`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    for (const table of ['push_deliveries', 'push_tasks', 'pulled_tasks', 'ehr_endpoints'])
      await queryRunner.query(`DROP TABLE "${s}".${table}`);
  }
}
