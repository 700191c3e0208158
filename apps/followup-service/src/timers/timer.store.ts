import { EntityManager } from 'typeorm';
import type { ReferralState } from '@carerelay/contracts';
import {
  CancelRule,
  NewTimer,
  ReferralTrack,
  TimerKind,
  TimerStage,
  emptyTrack,
} from './timer.rules';

export interface TimerRow {
  id: string;
  referralId: string;
  kind: TimerKind;
  stage: TimerStage;
  attempt: number | null;
  seq: number;
  dueAt: Date;
  deadlineAt: Date;
  organizationId: string | null;
  networkId: string;
  createdAt: Date;
  firedAt: Date | null;
  eventId: string | null;
  cancelledAt: Date | null;
  cancelReason: string | null;
}

const TIMER_COLUMNS = `id, referral_id AS "referralId", kind, stage, attempt, seq, due_at AS "dueAt",
  deadline_at AS "deadlineAt", organization_id AS "organizationId", network_id AS "networkId",
  created_at AS "createdAt", fired_at AS "firedAt", event_id AS "eventId",
  cancelled_at AS "cancelledAt", cancel_reason AS "cancelReason"`;

interface TrackRow {
  referral_id: string;
  network_id: string | null;
  organization_id: string | null;
  attempt: number | null;
  attempt_at: Date | null;
  attempt_routed: boolean;
  attempt_answered: boolean;
  closure_from: Date | null;
  last_activity_at: Date | null;
  closed_at: Date | null;
  closed_as: ReferralState | null;
}

/** Durable timers and the per-referral track they are planned from; all in the caller's transaction. */
export class TimerStore {
  constructor(private readonly schema: string) {}

  /** The referral's track, created when missing, locked until the transaction ends. */
  async lockTrack(manager: EntityManager, referralId: string): Promise<ReferralTrack> {
    const s = this.schema;
    // One round trip for both cases: the row this statement creates (locked as its insert), or
    // the existing one, locked. Parts of one statement share its snapshot, so a row another
    // transaction committed while the insert waited on it is seen by neither: read it again.
    let [row]: TrackRow[] = await manager.query(
      `WITH created AS (
         INSERT INTO "${s}".referral_track (referral_id) VALUES ($1) ON CONFLICT DO NOTHING
         RETURNING *),
       existing AS (SELECT * FROM "${s}".referral_track WHERE referral_id = $1 FOR UPDATE)
       SELECT * FROM created UNION ALL SELECT * FROM existing`,
      [referralId],
    );
    row ??= (
      (await manager.query(
        `SELECT * FROM "${s}".referral_track WHERE referral_id = $1 FOR UPDATE`,
        [referralId],
      )) as TrackRow[]
    )[0];
    return {
      ...emptyTrack(referralId),
      networkId: row.network_id,
      organizationId: row.organization_id,
      attempt: row.attempt,
      attemptAt: row.attempt_at,
      attemptRouted: row.attempt_routed,
      attemptAnswered: row.attempt_answered,
      closureFrom: row.closure_from,
      lastActivityAt: row.last_activity_at,
      closedAt: row.closed_at,
      closedAs: row.closed_as,
    };
  }

  async saveTrack(manager: EntityManager, track: ReferralTrack): Promise<void> {
    await manager.query(
      `UPDATE "${this.schema}".referral_track SET network_id = $2, organization_id = $3,
         attempt = $4, attempt_at = $5, attempt_routed = $6, attempt_answered = $7,
         closure_from = $8, last_activity_at = $9, closed_at = $10, closed_as = $11,
         updated_at = now()
       WHERE referral_id = $1`,
      [
        track.referralId,
        track.networkId,
        track.organizationId,
        track.attempt,
        track.attemptAt,
        track.attemptRouted,
        track.attemptAnswered,
        track.closureFrom,
        track.lastActivityAt,
        track.closedAt,
        track.closedAs,
      ],
    );
  }

  /**
   * Cancels pending timers by the plan's rules, in one statement; a timer two rules match takes
   * the first one's reason. A timer a poller has already claimed is fired, not cancelled.
   */
  async cancel(
    manager: EntityManager,
    referralId: string,
    rules: readonly CancelRule[],
  ): Promise<number> {
    if (rules.length === 0) return 0;
    const ruleRows = rules.map((rule, ord) => ({
      ord,
      kinds: rule.kinds,
      reason: rule.reason,
      attempt: rule.attempt ?? null,
      attempt_below: rule.attemptBelow ?? null,
    }));
    const matches = `t.kind = ANY(r.kinds) AND (r.attempt IS NULL OR t.attempt = r.attempt)
                     AND (r.attempt_below IS NULL OR t.attempt < r.attempt_below)`;
    // The driver answers an UPDATE with its rows and their count.
    const [, count] = (await manager.query(
      `WITH r AS (SELECT * FROM jsonb_to_recordset($2::jsonb)
                    AS x(ord int, kinds text[], reason text, attempt int, attempt_below int))
       UPDATE "${this.schema}".timer t SET cancelled_at = now(),
              cancel_reason = (SELECT r.reason FROM r WHERE ${matches} ORDER BY r.ord LIMIT 1)
        WHERE t.referral_id = $1 AND t.fired_at IS NULL AND t.cancelled_at IS NULL
          AND EXISTS (SELECT 1 FROM r WHERE ${matches})`,
      [referralId, JSON.stringify(ruleRows)],
    )) as [unknown[], number];
    return count;
  }

  /** The plan's new timers in one statement (an event starts several: deadline, warning, reminders). */
  async insert(
    manager: EntityManager,
    referralId: string,
    networkId: string,
    timers: NewTimer[],
  ): Promise<void> {
    if (timers.length === 0) return;
    await manager.query(
      `INSERT INTO "${this.schema}".timer
         (referral_id, kind, stage, attempt, seq, due_at, deadline_at, organization_id, network_id)
       SELECT $1, kind, stage, attempt, seq, due_at, deadline_at, organization_id, $2
         FROM unnest($3::text[], $4::text[], $5::int[], $6::int[], $7::timestamptz[],
                     $8::timestamptz[], $9::text[])
              AS t(kind, stage, attempt, seq, due_at, deadline_at, organization_id)
       ON CONFLICT DO NOTHING`,
      [
        referralId,
        networkId,
        timers.map((t) => t.kind),
        timers.map((t) => t.stage),
        timers.map((t) => t.attempt),
        timers.map((t) => t.seq),
        timers.map((t) => t.dueAt),
        timers.map((t) => t.deadlineAt),
        timers.map((t) => t.organizationId),
      ],
    );
  }

  async forReferral(manager: EntityManager, referralId: string): Promise<TimerRow[]> {
    return manager.query(
      `SELECT ${TIMER_COLUMNS} FROM "${this.schema}".timer WHERE referral_id = $1
        ORDER BY created_at, due_at, kind, seq`,
      [referralId],
    );
  }

  /** The timers of several referrals in one query, grouped by referral. */
  async forReferrals(manager: EntityManager, referralIds: readonly string[]): Promise<TimerRow[]> {
    return manager.query(
      `SELECT ${TIMER_COLUMNS} FROM "${this.schema}".timer WHERE referral_id = ANY($1)
        ORDER BY referral_id, created_at, due_at, kind, seq`,
      [referralIds],
    );
  }

  /**
   * Claims due timers: locked with SKIP LOCKED so that concurrent pollers (other instances) take
   * other rows, and held until the caller's transaction marks them fired and commits.
   */
  async claimDue(manager: EntityManager, limit: number): Promise<TimerRow[]> {
    return manager.query(
      `SELECT ${TIMER_COLUMNS} FROM "${this.schema}".timer
        WHERE fired_at IS NULL AND cancelled_at IS NULL AND due_at <= now()
        ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [limit],
    );
  }

  async markFired(manager: EntityManager, timerId: string, eventId: string): Promise<void> {
    await manager.query(
      `UPDATE "${this.schema}".timer SET fired_at = now(), event_id = $2 WHERE id = $1`,
      [timerId, eventId],
    );
  }

  async pendingByKind(manager: EntityManager): Promise<Array<{ kind: string; count: number }>> {
    const rows: Array<{ kind: string; count: string }> = await manager.query(
      `SELECT kind, count(*) AS count FROM "${this.schema}".timer
        WHERE fired_at IS NULL AND cancelled_at IS NULL GROUP BY kind`,
    );
    return rows.map((row) => ({ kind: row.kind, count: Number(row.count) }));
  }
}
