import { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@carerelay/persistence';

/**
 * The directory's own tables: each entry as the libs/directory model record (jsonb) plus the
 * columns the listing filters on. `updated_at` is the `occurredAt` of the entry's last event.
 */
export class Directory1732300000600 implements MigrationInterface {
  name = 'Directory1732300000600';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`
      CREATE TABLE "${s}".organization (
        id text PRIMARY KEY,
        name text NOT NULL,
        networks text[] NOT NULL DEFAULT '{}',
        record jsonb NOT NULL,
        retired_at timestamptz,
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL
      )`);
    await queryRunner.query(`
      CREATE TABLE "${s}".location (
        id text PRIMARY KEY,
        organization_id text NOT NULL REFERENCES "${s}".organization (id),
        postal_code text,
        record jsonb NOT NULL,
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL
      )`);
    await queryRunner.query(
      `CREATE INDEX location_organization ON "${s}".location (organization_id)`,
    );
    await queryRunner.query(`CREATE INDEX location_postal_code ON "${s}".location (postal_code)`);
    await queryRunner.query(`
      CREATE TABLE "${s}".service (
        id text PRIMARY KEY,
        organization_id text NOT NULL REFERENCES "${s}".organization (id),
        status text NOT NULL CHECK (status IN ('active', 'inactive')),
        capacity_status text NOT NULL CHECK (capacity_status IN ('available', 'waitlist', 'no-capacity')),
        categories text[] NOT NULL DEFAULT '{}',
        postal_codes text[] NOT NULL DEFAULT '{}',
        languages text[] NOT NULL DEFAULT '{}',
        record jsonb NOT NULL,
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL
      )`);
    await queryRunner.query(
      `CREATE INDEX service_organization ON "${s}".service (organization_id)`,
    );
    await queryRunner.query(
      `CREATE INDEX service_status ON "${s}".service (status, capacity_status)`,
    );
    await queryRunner.query(
      `CREATE INDEX service_categories ON "${s}".service USING gin (categories)`,
    );
    await queryRunner.query(
      `CREATE INDEX service_postal_codes ON "${s}".service USING gin (postal_codes)`,
    );
    await queryRunner.query(
      `CREATE INDEX service_languages ON "${s}".service USING gin (languages)`,
    );
    // Facts about the directory itself, e.g. that the sample was seeded (so it never is again).
    await queryRunner.query(`
      CREATE TABLE "${s}".directory_meta (
        key text PRIMARY KEY,
        value jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`DROP TABLE "${s}".directory_meta`);
    await queryRunner.query(`DROP TABLE "${s}".service`);
    await queryRunner.query(`DROP TABLE "${s}".location`);
    await queryRunner.query(`DROP TABLE "${s}".organization`);
  }
}
