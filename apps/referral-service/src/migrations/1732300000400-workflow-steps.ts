import { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@carerelay/persistence';

/**
 * The workflow decides inside a transaction and acts after it: the step it decided (FHIR writes,
 * then the events that announce them) waits on the referral row until it is done, and the events
 * that reach a referral while a step is open wait in its inbox, in order. The source context the
 * CBO Tasks are made from is kept once, at intake.
 */
export class WorkflowSteps1732300000400 implements MigrationInterface {
  name = 'WorkflowSteps1732300000400';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`
      ALTER TABLE "${s}".referral
        ADD COLUMN pending jsonb,
        ADD COLUMN pending_due timestamptz,
        ADD COLUMN source jsonb`);
    await queryRunner.query(
      `CREATE INDEX referral_pending_due ON "${s}".referral (pending_due) WHERE pending IS NOT NULL`,
    );
    await queryRunner.query(`
      CREATE TABLE "${s}".referral_input (
        seq bigserial PRIMARY KEY,
        referral_id text NOT NULL,
        input jsonb NOT NULL,
        traceparent text,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(
      `CREATE INDEX referral_input_referral ON "${s}".referral_input (referral_id, seq)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`DROP TABLE "${s}".referral_input`);
    await queryRunner.query(`DROP INDEX "${s}".referral_pending_due`);
    await queryRunner.query(
      `ALTER TABLE "${s}".referral DROP COLUMN pending, DROP COLUMN pending_due, DROP COLUMN source`,
    );
  }
}
