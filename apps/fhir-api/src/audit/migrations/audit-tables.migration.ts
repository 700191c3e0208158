import { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@carerelay/persistence';

/**
 * The audit trail: one row per FHIR AuditEvent (the resource itself in `content`), with the
 * columns its searches use (agent, entity, date, action, outcome, subtype). Append-only.
 */
export class AuditTables1732500001000 implements MigrationInterface {
  name = 'AuditTables1732500001000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`
      CREATE TABLE "${s}".audit_events (
        id uuid PRIMARY KEY,
        seq bigint GENERATED ALWAYS AS IDENTITY,
        recorded timestamptz NOT NULL,
        action text NOT NULL,
        subtype text NOT NULL,
        outcome text NOT NULL,
        client_id text NOT NULL,
        organization_id text NOT NULL,
        resource_type text,
        entity_refs text[] NOT NULL DEFAULT '{}',
        content jsonb NOT NULL
      )`);
    await queryRunner.query(
      `CREATE INDEX audit_events_recorded ON "${s}".audit_events (recorded, seq)`,
    );
    await queryRunner.query(
      `CREATE INDEX audit_events_organization ON "${s}".audit_events (organization_id, recorded)`,
    );
    await queryRunner.query(
      `CREATE INDEX audit_events_client ON "${s}".audit_events (client_id, recorded)`,
    );
    await queryRunner.query(
      `CREATE INDEX audit_events_entity ON "${s}".audit_events USING gin (entity_refs)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "${schemaOf(queryRunner)}".audit_events`);
  }
}

/** Append to the fhir-api's migration list (after AUTH_MIGRATIONS). */
export const AUDIT_MIGRATIONS = [AuditTables1732500001000];
