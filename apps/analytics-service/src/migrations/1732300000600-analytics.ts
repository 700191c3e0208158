import { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@carerelay/persistence';

/**
 * The read model. Every source keeps its own table keyed by its own id (referral events by event,
 * Patients by pseudonym, ServiceRequests and Tasks by id), and the measures join them when asked:
 * whichever arrives first, the join finds the other once it is there. `referral` is derived from
 * `referral_event` by recomputing the referral's row from all its events, so a duplicate, a
 * redelivery or a replay gives the same row.
 */
export class Analytics1732300000600 implements MigrationInterface {
  name = 'Analytics1732300000600';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`
      CREATE TABLE "${s}".referral_event (
        event_id text PRIMARY KEY,
        seq bigserial NOT NULL,
        referral_id text NOT NULL,
        state text NOT NULL,
        occurred_at timestamptz NOT NULL,
        attempt integer,
        reason_code text,
        requester_org text,
        target_org text,
        patient_key text
      )`);
    await queryRunner.query(
      `CREATE INDEX referral_event_referral ON "${s}".referral_event (referral_id, occurred_at)`,
    );
    await queryRunner.query(`
      CREATE TABLE "${s}".referral (
        referral_id text PRIMARY KEY,
        requested_at timestamptz NOT NULL,
        routed_at timestamptz,
        accepted_at timestamptz,
        completed_at timestamptz,
        terminal_state text,
        terminal_at timestamptz,
        current_state text NOT NULL,
        current_state_at timestamptz NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        reroutes integer NOT NULL DEFAULT 0,
        awaited_consent boolean NOT NULL DEFAULT false,
        requester_org text,
        target_org text,
        patient_key text
      )`);
    await queryRunner.query(`CREATE INDEX referral_requested ON "${s}".referral (requested_at)`);
    await queryRunner.query(`
      CREATE TABLE "${s}".patient (
        patient_key text PRIMARY KEY,
        race text,
        ethnicity text,
        language text,
        zip text,
        age_band text,
        sex text,
        payer_extension text,
        source_updated_at timestamptz NOT NULL
      )`);
    await queryRunner.query(`
      CREATE TABLE "${s}".service_request (
        service_request_id text PRIMARY KEY,
        category text,
        code text,
        source_updated_at timestamptz NOT NULL
      )`);
    await queryRunner.query(`
      CREATE TABLE "${s}".task_link (
        task_id text PRIMARY KEY,
        service_request_id text,
        patient_key text,
        source_updated_at timestamptz NOT NULL
      )`);
    await queryRunner.query(`
      CREATE TABLE "${s}".coverage (
        coverage_id text PRIMARY KEY,
        patient_key text,
        payer text,
        active boolean NOT NULL,
        source_updated_at timestamptz NOT NULL
      )`);
    await queryRunner.query(`CREATE INDEX coverage_patient ON "${s}".coverage (patient_key)`);
    await queryRunner.query(`
      CREATE TABLE "${s}".followup_event (
        dedupe_key text PRIMARY KEY,
        referral_id text NOT NULL,
        kind text NOT NULL,
        breached boolean NOT NULL,
        occurred_at timestamptz NOT NULL
      )`);
    await queryRunner.query(
      `CREATE INDEX followup_event_referral ON "${s}".followup_event (referral_id)`,
    );
    await queryRunner.query(`
      CREATE TABLE "${s}".consent_state (
        patient_key text PRIMARY KEY,
        status text NOT NULL,
        occurred_at timestamptz NOT NULL
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    for (const table of [
      'consent_state',
      'followup_event',
      'coverage',
      'task_link',
      'service_request',
      'patient',
      'referral',
      'referral_event',
    ]) {
      await queryRunner.query(`DROP TABLE "${s}".${table}`);
    }
  }
}
