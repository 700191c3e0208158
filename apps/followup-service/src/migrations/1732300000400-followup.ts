import { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@carerelay/persistence';
import { DEFAULT_POLICY } from '../policy/followup-policy';

export class Followup1732300000400 implements MigrationInterface {
  name = 'Followup1732300000400';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`
      CREATE TABLE "${s}".followup_policy (
        network_id text PRIMARY KEY,
        time_zone text NOT NULL,
        holidays jsonb NOT NULL DEFAULT '[]',
        acceptance jsonb NOT NULL,
        reminder_seconds jsonb NOT NULL DEFAULT '[]',
        closure jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`
      CREATE TABLE "${s}".network_member (
        organization_id text PRIMARY KEY,
        network_id text NOT NULL REFERENCES "${s}".followup_policy (network_id) ON DELETE CASCADE
      )`);
    await queryRunner.query(`
      CREATE TABLE "${s}".referral_track (
        referral_id text PRIMARY KEY,
        network_id text,
        organization_id text,
        attempt integer,
        attempt_at timestamptz,
        attempt_routed boolean NOT NULL DEFAULT false,
        attempt_answered boolean NOT NULL DEFAULT false,
        closure_from timestamptz,
        last_activity_at timestamptz,
        closed_at timestamptz,
        closed_as text,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`
      CREATE TABLE "${s}".timer (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        referral_id text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('acceptance', 'reminder', 'closure')),
        stage text NOT NULL CHECK (stage IN ('warning', 'deadline', 'reminder')),
        attempt integer,
        seq integer NOT NULL DEFAULT 0,
        due_at timestamptz NOT NULL,
        deadline_at timestamptz NOT NULL,
        organization_id text,
        network_id text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        fired_at timestamptz,
        event_id uuid,
        cancelled_at timestamptz,
        cancel_reason text,
        CHECK (fired_at IS NULL OR cancelled_at IS NULL)
      )`);
    await queryRunner.query(
      `CREATE INDEX timer_pending_due ON "${s}".timer (due_at)
       WHERE fired_at IS NULL AND cancelled_at IS NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX timer_referral ON "${s}".timer (referral_id, created_at)`,
    );
    // At most one pending timer of each kind, stage, attempt and reminder number per referral.
    await queryRunner.query(
      `CREATE UNIQUE INDEX timer_one_pending ON "${s}".timer
       (referral_id, kind, stage, coalesce(attempt, -1), seq)
       WHERE fired_at IS NULL AND cancelled_at IS NULL`,
    );
    await queryRunner.query(`
      CREATE TABLE "${s}".contact_attempt (
        id uuid PRIMARY KEY,
        referral_id text NOT NULL,
        organization_id text,
        channel text NOT NULL,
        outcome text NOT NULL,
        note text,
        at timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(
      `CREATE INDEX contact_attempt_referral ON "${s}".contact_attempt (referral_id, at)`,
    );
    await queryRunner.query(`
      CREATE TABLE "${s}".followup_outcome (
        id uuid PRIMARY KEY,
        referral_id text NOT NULL,
        organization_id text,
        status text NOT NULL,
        note text,
        at timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(
      `CREATE INDEX followup_outcome_referral ON "${s}".followup_outcome (referral_id, at)`,
    );
    const p = DEFAULT_POLICY;
    await queryRunner.query(
      `INSERT INTO "${s}".followup_policy (network_id, time_zone, holidays, acceptance, reminder_seconds, closure)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [
        p.networkId,
        p.timeZone,
        JSON.stringify(p.holidays),
        JSON.stringify(p.acceptance),
        JSON.stringify(p.reminderSeconds),
        JSON.stringify(p.closure),
      ],
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    for (const table of [
      'followup_outcome',
      'contact_attempt',
      'timer',
      'referral_track',
      'network_member',
      'followup_policy',
    ]) {
      await queryRunner.query(`DROP TABLE "${s}".${table}`);
    }
  }
}
