import { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@carerelay/persistence';

export class Consents1732300000200 implements MigrationInterface {
  name = 'Consents1732300000200';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    // The newest version seen of each Consent; a delete stays as a tombstone so that an older
    // version arriving late cannot bring the consent back.
    await queryRunner.query(`
      CREATE TABLE "${s}".consent_record (
        consent_id text PRIMARY KEY,
        patient_id text,
        version_id text NOT NULL,
        last_updated timestamptz NOT NULL,
        deleted boolean NOT NULL DEFAULT false,
        decision jsonb,
        problem text,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(
      `CREATE INDEX consent_record_patient ON "${s}".consent_record (patient_id)`,
    );
    // What has been announced as in force (consent.granted, or consent.revoked for a deny).
    await queryRunner.query(`
      CREATE TABLE "${s}".consent_grant (
        patient_id text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('permit', 'deny')),
        consent_id text NOT NULL,
        organization_key text NOT NULL,
        period_start timestamptz,
        period_end timestamptz,
        security_labels jsonb NOT NULL,
        announced_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (patient_id, kind, consent_id, organization_key)
      )`);
    // Durable timers: look at this patient's consents again at due_at (a period starts or ends).
    await queryRunner.query(`
      CREATE TABLE "${s}".consent_timer (
        patient_id text NOT NULL,
        due_at timestamptz NOT NULL,
        PRIMARY KEY (patient_id, due_at)
      )`);
    await queryRunner.query(`CREATE INDEX consent_timer_due ON "${s}".consent_timer (due_at)`);
    // Where each referral was routed, from referral.events.v1.
    await queryRunner.query(`
      CREATE TABLE "${s}".referral_route (
        referral_id text PRIMARY KEY,
        patient_id text,
        organization_id text,
        state text NOT NULL,
        occurred_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    for (const table of ['referral_route', 'consent_timer', 'consent_grant', 'consent_record']) {
      await queryRunner.query(`DROP TABLE "${s}".${table}`);
    }
  }
}
