import { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@carerelay/persistence';

/** Routing state on the referral, and the service's local views of the directory and consents. */
export class Routing1732300000200 implements MigrationInterface {
  name = 'Routing1732300000200';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`
      ALTER TABLE "${s}".referral
        ADD COLUMN attempt integer NOT NULL DEFAULT 0,
        ADD COLUMN target_organization_id text,
        ADD COLUMN target_service_id text,
        ADD COLUMN cbo_task_id text,
        ADD COLUMN cbo_service_request_id text,
        ADD COLUMN tried_organization_ids text[] NOT NULL DEFAULT '{}',
        ADD COLUMN need jsonb,
        ADD COLUMN explanation jsonb,
        ADD COLUMN reason text`);
    await queryRunner.query(`CREATE INDEX referral_patient ON "${s}".referral (patient_id)`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX referral_cbo_task ON "${s}".referral (cbo_task_id)`,
    );
    await queryRunner.query(`
      CREATE TABLE "${s}".directory_entry (
        kind text NOT NULL CHECK (kind IN ('organization', 'service', 'location')),
        id text NOT NULL,
        organization_id text NOT NULL,
        record jsonb NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (kind, id)
      )`);
    // One row per consent and recipient ('*' = the whole network): a consent naming several
    // organizations announces each, and a deny announces the organization it blocks.
    await queryRunner.query(`
      CREATE TABLE "${s}".consent_view (
        consent_id text NOT NULL,
        organization_key text NOT NULL,
        patient_id text NOT NULL,
        organization_id text,
        state text NOT NULL CHECK (state IN ('granted', 'revoked', 'expired')),
        period_end timestamptz,
        security_labels text[] NOT NULL DEFAULT '{}',
        occurred_at timestamptz NOT NULL,
        PRIMARY KEY (consent_id, organization_key)
      )`);
    await queryRunner.query(
      `CREATE INDEX consent_view_patient ON "${s}".consent_view (patient_id)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`DROP TABLE "${s}".consent_view`);
    await queryRunner.query(`DROP TABLE "${s}".directory_entry`);
  }
}
