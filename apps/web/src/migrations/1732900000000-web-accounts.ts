import { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@carerelay/persistence';

/**
 * People who sign in to the web app (per organization, with a role), their sessions (expiring,
 * stored here so that every web process shares them and sign-out is immediate) and the CSRF token
 * of each session. Passwords are argon2id hashes; OIDC people have none.
 */
export class WebAccounts1732900000000 implements MigrationInterface {
  name = 'WebAccounts1732900000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`
      CREATE TABLE "${s}".users (
        id uuid PRIMARY KEY,
        username text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9._@-]{3,100}$'),
        display_name text NOT NULL,
        organization_id text NOT NULL,
        role text NOT NULL CHECK (role IN ('case-manager', 'cbo-admin', 'coordinator')),
        password_hash text,
        oidc_subject text UNIQUE,
        language text NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'es')),
        failed_attempts integer NOT NULL DEFAULT 0,
        locked_until timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`CREATE INDEX users_organization ON "${s}".users (organization_id)`);
    await queryRunner.query(`
      CREATE TABLE "${s}".sessions (
        id_hash text PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES "${s}".users (id) ON DELETE CASCADE,
        csrf_token text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL
      )`);
    await queryRunner.query(`CREATE INDEX sessions_expires ON "${s}".sessions (expires_at)`);
    await queryRunner.query(`CREATE INDEX sessions_user ON "${s}".sessions (user_id)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`DROP TABLE "${s}".sessions`);
    await queryRunner.query(`DROP TABLE "${s}".users`);
  }
}
