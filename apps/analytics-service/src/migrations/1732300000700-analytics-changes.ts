import { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@carerelay/persistence';

/**
 * Which referrals changed since a reader last looked: the transaction that last changed a
 * referral's row or anything it joins (Patient, Task, ServiceRequest, Coverage, breaches). A
 * reader that remembers its snapshot finds every change it could not see: transactions from the
 * snapshot's xmax on, and those then in progress (its xip list), including ones that committed late.
 */
export class AnalyticsChanges1732300000700 implements MigrationInterface {
  name = 'AnalyticsChanges1732300000700';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(
      `ALTER TABLE "${s}".referral ADD COLUMN changed_xid xid8 NOT NULL DEFAULT pg_current_xact_id()`,
    );
    await queryRunner.query(`CREATE INDEX referral_changed ON "${s}".referral (changed_xid)`);
    await queryRunner.query(`CREATE INDEX referral_patient ON "${s}".referral (patient_key)`);
    await queryRunner.query(`CREATE INDEX task_link_patient ON "${s}".task_link (patient_key)`);
    await queryRunner.query(
      `CREATE INDEX task_link_service_request ON "${s}".task_link (service_request_id)`,
    );
    // The directory's services as unmet need compares them: what, where, and how much room.
    await queryRunner.query(`
      CREATE TABLE "${s}".directory_service (
        service_id text PRIMARY KEY,
        organization_id text NOT NULL,
        active boolean NOT NULL,
        categories text[] NOT NULL,
        postal_codes text[] NOT NULL,
        other_areas integer NOT NULL,
        capacity_status text,
        available integer,
        maximum integer,
        occurred_at timestamptz NOT NULL
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`DROP TABLE "${s}".directory_service`);
    await queryRunner.query(`DROP INDEX "${s}".task_link_service_request`);
    await queryRunner.query(`DROP INDEX "${s}".task_link_patient`);
    await queryRunner.query(`DROP INDEX "${s}".referral_patient`);
    await queryRunner.query(`ALTER TABLE "${s}".referral DROP COLUMN changed_xid`);
  }
}
