import { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@carerelay/persistence';

/** Subscriptions (R5 Backport on R4) and their numbered events, which are also the delivery queue. */
export class SubscriptionTables1732700000000 implements MigrationInterface {
  name = 'SubscriptionTables1732700000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`
      CREATE TABLE "${s}".subscriptions (
        id text PRIMARY KEY,
        owner_client text NOT NULL,
        owner_org text NOT NULL,
        owner_role text NOT NULL,
        status text NOT NULL CHECK (status IN ('requested', 'active', 'error', 'off')),
        topic text NOT NULL,
        filters text[] NOT NULL,
        endpoint text NOT NULL,
        payload text NOT NULL CHECK (payload IN ('empty', 'id-only', 'full-resource')),
        headers text[] NOT NULL,
        heartbeat_seconds integer,
        timeout_seconds integer NOT NULL,
        end_at timestamptz,
        event_count bigint NOT NULL DEFAULT 0,
        error text,
        last_sent_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        resource jsonb NOT NULL
      )`);
    await queryRunner.query(`
      CREATE TABLE "${s}".subscription_events (
        subscription_id text NOT NULL REFERENCES "${s}".subscriptions (id) ON DELETE CASCADE,
        event_number bigint NOT NULL,
        focus_type text NOT NULL,
        focus_id text NOT NULL,
        focus_version integer NOT NULL,
        occurred_at timestamptz NOT NULL,
        state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        last_error text,
        delivered_at timestamptz,
        PRIMARY KEY (subscription_id, event_number)
      )`);
    await queryRunner.query(
      `CREATE INDEX subscription_events_pending ON "${s}".subscription_events (subscription_id, event_number) WHERE state = 'pending'`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`DROP TABLE "${s}".subscription_events`);
    await queryRunner.query(`DROP TABLE "${s}".subscriptions`);
  }
}
