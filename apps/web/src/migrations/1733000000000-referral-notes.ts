import { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@carerelay/persistence';

/**
 * Case managers' notes on a referral: working notes of the organization the referral is
 * addressed to, readable by that organization only. Kept here, not in FHIR: the owner of a CBO
 * Task may change only its status, statusReason and output, and the follow-up service records
 * contact attempts and outcomes, not free notes.
 */
export class ReferralNotes1733000000000 implements MigrationInterface {
  name = 'ReferralNotes1733000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`
      CREATE TABLE "${s}".referral_notes (
        id uuid PRIMARY KEY,
        task_id text NOT NULL,
        organization_id text NOT NULL,
        author_username text NOT NULL,
        author_name text NOT NULL,
        text text NOT NULL CHECK (length(text) BETWEEN 1 AND 4000),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(
      `CREATE INDEX referral_notes_task ON "${s}".referral_notes (organization_id, task_id, created_at)`,
    );
    // What a person did through the platform's client (EHR replays, capacity changes): who, when.
    await queryRunner.query(`
      CREATE TABLE "${s}".operator_actions (
        id uuid PRIMARY KEY,
        username text NOT NULL,
        organization_id text NOT NULL,
        action text NOT NULL,
        target text NOT NULL,
        detail jsonb NOT NULL DEFAULT '{}',
        at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`DROP TABLE "${s}".operator_actions`);
    await queryRunner.query(`DROP TABLE "${s}".referral_notes`);
  }
}
