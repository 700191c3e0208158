import { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@carerelay/persistence';

/**
 * CareRelay Tasks posted with a focus (and for) on an EHR's own server, waiting to be fetched
 * from that EHR; and what of each endpoint was last published into the FHIR API as an Endpoint.
 */
export class EhrConnectorRemoteReferrals1733600000000 implements MigrationInterface {
  name = 'EhrConnectorRemoteReferrals1733600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`
      CREATE TABLE "${s}".remote_referrals (
        task_id text PRIMARY KEY,
        endpoint_id text NOT NULL REFERENCES "${s}".ehr_endpoints (id),
        state text NOT NULL DEFAULT 'pending',
        attempts integer NOT NULL DEFAULT 0,
        last_error text,
        first_seen_at timestamptz NOT NULL DEFAULT now(),
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(
      `CREATE INDEX remote_referrals_due ON "${s}".remote_referrals (next_attempt_at)
       WHERE state = 'pending'`,
    );
    await queryRunner.query(
      `ALTER TABLE "${s}".ehr_endpoints ADD COLUMN fhir_endpoint_published text`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`ALTER TABLE "${s}".ehr_endpoints DROP COLUMN fhir_endpoint_published`);
    await queryRunner.query(`DROP TABLE "${s}".remote_referrals`);
  }
}
