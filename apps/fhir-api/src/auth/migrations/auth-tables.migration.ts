import { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@carerelay/persistence';

/**
 * SMART Backend Services: registered clients (with their public JWKS), the `jti` of every client
 * assertion until it expires (replay protection), and the access-token signing key shared by all
 * fhir-api processes when no key is given in the environment.
 */
export class AuthTables1732500000000 implements MigrationInterface {
  name = 'AuthTables1732500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`
      CREATE TABLE "${s}".auth_clients (
        client_id text PRIMARY KEY,
        organization_id text NOT NULL CHECK (organization_id <> ''),
        role text NOT NULL CHECK (role IN ('ehr', 'cbo', 'coordinator', 'platform')),
        jwks jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        active boolean NOT NULL DEFAULT true,
        disabled_at timestamptz
      )`);
    await queryRunner.query(
      `CREATE INDEX auth_clients_organization ON "${s}".auth_clients (organization_id)`,
    );
    await queryRunner.query(`
      CREATE TABLE "${s}".auth_used_jti (
        client_id text NOT NULL,
        jti text NOT NULL,
        expires_at timestamptz NOT NULL,
        used_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (client_id, jti)
      )`);
    await queryRunner.query(
      `CREATE INDEX auth_used_jti_expires ON "${s}".auth_used_jti (expires_at)`,
    );
    await queryRunner.query(`
      CREATE TABLE "${s}".auth_signing_keys (
        name text PRIMARY KEY,
        kid text NOT NULL,
        alg text NOT NULL,
        private_jwk jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`DROP TABLE "${s}".auth_signing_keys`);
    await queryRunner.query(`DROP TABLE "${s}".auth_used_jti`);
    await queryRunner.query(`DROP TABLE "${s}".auth_clients`);
  }
}

/** Append to the fhir-api's migration list (after MessagingTables and the store's tables). */
export const AUTH_MIGRATIONS = [AuthTables1732500000000];
