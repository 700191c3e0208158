import { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@carerelay/persistence';

/**
 * Pull sees later changes of what it took in: the EHR version applied last of each pulled Task
 * and of its ServiceRequest (so a change is applied once and an older version never again), and
 * a watermark of its own for the ServiceRequest search.
 */
export class EhrConnectorPullVersions1733400000000 implements MigrationInterface {
  name = 'EhrConnectorPullVersions1733400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`
      ALTER TABLE "${s}".pulled_tasks
        ADD COLUMN ehr_version_id text,
        ADD COLUMN ehr_service_request_id text,
        ADD COLUMN ehr_service_request_version_id text,
        ADD COLUMN ehr_service_request_last_updated timestamptz`);
    await queryRunner.query(
      `CREATE INDEX pulled_tasks_service_request ON "${s}".pulled_tasks (endpoint_id, ehr_service_request_id)
       WHERE ehr_service_request_id IS NOT NULL`,
    );
    await queryRunner.query(
      `ALTER TABLE "${s}".ehr_endpoints ADD COLUMN pull_service_request_watermark timestamptz`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(
      `ALTER TABLE "${s}".ehr_endpoints DROP COLUMN pull_service_request_watermark`,
    );
    await queryRunner.query(`DROP INDEX "${s}".pulled_tasks_service_request`);
    await queryRunner.query(`
      ALTER TABLE "${s}".pulled_tasks
        DROP COLUMN ehr_version_id, DROP COLUMN ehr_service_request_id,
        DROP COLUMN ehr_service_request_version_id, DROP COLUMN ehr_service_request_last_updated`);
  }
}
