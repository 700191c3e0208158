import { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@carerelay/persistence';

/** When the reconciliation last compared a referral with its Tasks: it visits the oldest first. */
export class Reconciliation1732300000300 implements MigrationInterface {
  name = 'Reconciliation1732300000300';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`ALTER TABLE "${s}".referral ADD COLUMN reconciled_at timestamptz`);
    await queryRunner.query(
      `CREATE INDEX referral_open_reconciled ON "${s}".referral
         (coalesce(reconciled_at, updated_at))
       WHERE state IN ('awaiting-consent', 'routed', 'rerouted', 'accepted', 'in-progress', 'on-hold')`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`DROP INDEX "${s}".referral_open_reconciled`);
    await queryRunner.query(`ALTER TABLE "${s}".referral DROP COLUMN reconciled_at`);
  }
}
