import { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@carerelay/persistence';

export class Referrals1732300000100 implements MigrationInterface {
  name = 'Referrals1732300000100';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`
      CREATE TABLE "${s}".referral (
        id text PRIMARY KEY,
        source_task_version text NOT NULL,
        requester_organization_id text,
        patient_id text,
        service_request_id text,
        state text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`CREATE INDEX referral_state ON "${s}".referral (state)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "${schemaOf(queryRunner)}".referral`);
  }
}
