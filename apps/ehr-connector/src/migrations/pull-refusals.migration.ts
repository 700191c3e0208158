import { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@carerelay/persistence';

/** EHR Tasks a pull could not bring in (CareRelay or the EHR refused them as they are). */
export class EhrConnectorPullRefusals1732800000000 implements MigrationInterface {
  name = 'EhrConnectorPullRefusals1732800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`
      CREATE TABLE "${s}".pull_refusals (
        endpoint_id text NOT NULL REFERENCES "${s}".ehr_endpoints (id),
        ehr_task_id text NOT NULL,
        ehr_last_updated timestamptz,
        error text NOT NULL,
        attempts integer NOT NULL DEFAULT 1,
        first_refused_at timestamptz NOT NULL DEFAULT now(),
        last_refused_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (endpoint_id, ehr_task_id)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "${schemaOf(queryRunner)}".pull_refusals`);
  }
}
