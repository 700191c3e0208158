import { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@carerelay/persistence';

/**
 * EHR credentials move into the database, encrypted (ehr_endpoint_credentials); the connector no
 * longer reads key files named by a registration. Endpoints that named a key file are disabled
 * until their key is set again (`npm run cli -- ehr:add ... --jwk-file`, or PUT with privateJwk).
 */
export class EhrEndpointCredentials1733100000000 implements MigrationInterface {
  name = 'EhrEndpointCredentials1733100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`
      CREATE TABLE "${s}".ehr_endpoint_credentials (
        endpoint_id text PRIMARY KEY REFERENCES "${s}".ehr_endpoints (id) ON DELETE CASCADE,
        key_id text NOT NULL,
        private_jwk_ciphertext text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(
      `UPDATE "${s}".ehr_endpoints SET enabled = false,
         last_poll_error = 'credentials must be set again (key files are no longer read)'
       WHERE private_jwk_file IS NOT NULL`,
    );
    await queryRunner.query(`ALTER TABLE "${s}".ehr_endpoints DROP COLUMN private_jwk_file`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`ALTER TABLE "${s}".ehr_endpoints ADD COLUMN private_jwk_file text`);
    await queryRunner.query(`DROP TABLE "${s}".ehr_endpoint_credentials`);
  }
}
