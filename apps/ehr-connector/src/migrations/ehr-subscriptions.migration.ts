import { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@carerelay/persistence';

/**
 * Subscriptions CareRelay holds on an EHR (R4 Backport, rest-hook): the secret the EHR sends in
 * its channel header (encrypted as the endpoint credentials are) and the event-number progress.
 */
export class EhrSubscriptions1733500000000 implements MigrationInterface {
  name = 'EhrSubscriptions1733500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`
      CREATE TABLE "${s}".ehr_subscriptions (
        endpoint_id text PRIMARY KEY REFERENCES "${s}".ehr_endpoints (id) ON DELETE CASCADE,
        key_id text NOT NULL,
        secret_ciphertext text NOT NULL,
        content text NOT NULL CHECK (content IN ('id-only', 'full-resource')),
        ehr_subscription_id text,
        subscription_reference text,
        last_event_number bigint NOT NULL DEFAULT 0,
        notifications bigint NOT NULL DEFAULT 0,
        gaps integer NOT NULL DEFAULT 0,
        missed_events bigint NOT NULL DEFAULT 0,
        last_notification_at timestamptz,
        last_gap_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "${schemaOf(queryRunner)}".ehr_subscriptions`);
  }
}
