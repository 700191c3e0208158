import { DataSource, EntityManager } from 'typeorm';
import { dueKeys, type DueKeys } from '@carerelay/messaging';
import type { Resource } from '@medplum/fhirtypes';
import type { StoredSubscription, SubscriptionRequest, SubscriptionStatusCode } from './backport';

interface Row {
  id: string;
  owner_client: string;
  owner_org: string;
  owner_role: string;
  status: SubscriptionStatusCode;
  topic: string;
  filters: string[];
  endpoint: string;
  payload: StoredSubscription['payload'];
  headers: string[];
  heartbeat_seconds: number | null;
  timeout_seconds: number;
  end_at: Date | null;
  event_count: string;
  error: string | null;
  reason?: string;
}

const toSubscription = (row: Row): StoredSubscription => ({
  id: row.id,
  ownerClient: row.owner_client,
  ownerOrg: row.owner_org,
  ownerRole: row.owner_role,
  status: row.status,
  topic: row.topic,
  filters: row.filters,
  endpoint: row.endpoint,
  payload: row.payload,
  headers: row.headers,
  heartbeatSeconds: row.heartbeat_seconds ?? undefined,
  timeoutSeconds: row.timeout_seconds,
  end: row.end_at?.toISOString(),
  eventCount: Number(row.event_count),
  error: row.error ?? undefined,
});

export interface PendingEvent {
  subscriptionId: string;
  eventNumber: number;
  focusType: string;
  focusId: string;
  focusVersion: number;
  occurredAt: string;
  attempts: number;
  nextAttemptAt: string;
}

/** SQL of the subscriptions tables (in the fhir-api's schema). */
export class SubscriptionStore {
  constructor(
    readonly dataSource: DataSource,
    readonly schema: string,
  ) {}

  private get s(): string {
    return `"${this.schema}"`;
  }

  /** The NOTIFY channel of the engines: an event queued, a subscription's status changed. */
  get channel(): string {
    return `carerelay_subscriptions_${this.schema}`;
  }

  async create(
    id: string,
    owner: { clientId: string; organizationId: string; role: string },
    request: SubscriptionRequest,
    resource: Resource,
  ): Promise<StoredSubscription> {
    const [row] = (await this.dataSource.query(
      `INSERT INTO ${this.s}.subscriptions (id, owner_client, owner_org, owner_role, status, topic, filters,
         endpoint, payload, headers, heartbeat_seconds, timeout_seconds, end_at, resource)
       VALUES ($1, $2, $3, $4, 'requested', $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING *`,
      [
        id,
        owner.clientId,
        owner.organizationId,
        owner.role,
        request.topic,
        request.filters,
        request.endpoint,
        request.payload,
        request.headers,
        request.heartbeatSeconds ?? null,
        request.timeoutSeconds,
        request.end ?? null,
        JSON.stringify(resource),
      ],
    )) as Row[];
    return { ...toSubscription(row), reason: request.reason };
  }

  async get(id: string): Promise<StoredSubscription | undefined> {
    const [row] = (await this.dataSource.query(
      `SELECT * FROM ${this.s}.subscriptions WHERE id = $1`,
      [id],
    )) as Row[];
    return row ? toSubscription(row) : undefined;
  }

  async setStatus(
    id: string,
    status: SubscriptionStatusCode,
    error?: string | null,
  ): Promise<void> {
    // The engines hear of it (on commit): a subscription that is live now has heartbeats due.
    await this.dataSource.query(
      `WITH changed AS (
         UPDATE ${this.s}.subscriptions SET status = $2, error = $3, last_sent_at = CASE WHEN $2 = 'active' THEN now() ELSE last_sent_at END
         WHERE id = $1 RETURNING id)
       SELECT pg_notify($4, '') FROM changed`,
      [id, status, error ?? null, this.channel],
    );
  }

  /** Subscriptions that receive events: active or in error (deliveries go on), not ended. */
  async live(manager: EntityManager): Promise<StoredSubscription[]> {
    const rows = (await manager.query(
      `SELECT * FROM ${this.s}.subscriptions WHERE status IN ('active', 'error') AND (end_at IS NULL OR end_at > now())`,
    )) as Row[];
    return rows.map(toSubscription);
  }

  /** Numbers the next event of a subscription and queues its delivery, in the caller's transaction. */
  async appendEvent(
    manager: EntityManager,
    subscriptionId: string,
    focus: { type: string; id: string; version: number; occurredAt: string },
  ): Promise<number> {
    const [rows] = (await manager.query(
      `UPDATE ${this.s}.subscriptions SET event_count = event_count + 1 WHERE id = $1 RETURNING event_count`,
      [subscriptionId],
    )) as [{ event_count: string }[], number];
    const eventNumber = Number(rows[0].event_count);
    await manager.query(
      `INSERT INTO ${this.s}.subscription_events (subscription_id, event_number, focus_type, focus_id, focus_version, occurred_at)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [subscriptionId, eventNumber, focus.type, focus.id, focus.version, focus.occurredAt],
    );
    return eventNumber;
  }

  dueSubscriptions(limit: number): Promise<DueKeys> {
    return dueKeys(
      this.dataSource,
      { table: `${this.s}.subscription_events`, key: 'subscription_id', order: 'event_number' },
      limit,
    );
  }

  async withLock(id: string, fn: (manager: EntityManager) => Promise<void>): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const [{ locked }] = await manager.query(
        'SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked',
        [`subscription:${this.schema}:${id}`],
      );
      if (locked) await fn(manager);
    });
  }

  async pending(manager: EntityManager, id: string): Promise<PendingEvent[]> {
    const rows = await manager.query(
      `SELECT * FROM ${this.s}.subscription_events WHERE subscription_id = $1 AND state = 'pending'
       ORDER BY event_number LIMIT 100`,
      [id],
    );
    return (rows as Record<string, unknown>[]).map((r) => ({
      subscriptionId: r.subscription_id as string,
      eventNumber: Number(r.event_number),
      focusType: r.focus_type as string,
      focusId: r.focus_id as string,
      focusVersion: r.focus_version as number,
      occurredAt: (r.occurred_at as Date).toISOString(),
      attempts: r.attempts as number,
      nextAttemptAt: (r.next_attempt_at as Date).toISOString(),
    }));
  }

  async markDelivered(manager: EntityManager, e: PendingEvent): Promise<void> {
    await manager.query(
      `UPDATE ${this.s}.subscription_events SET state = 'delivered', delivered_at = now(), attempts = attempts + 1
       WHERE subscription_id = $1 AND event_number = $2`,
      [e.subscriptionId, e.eventNumber],
    );
    await manager.query(
      `UPDATE ${this.s}.subscriptions SET last_sent_at = now(),
         status = CASE WHEN status = 'error' THEN 'active' ELSE status END,
         error = CASE WHEN status = 'error' THEN NULL ELSE error END
       WHERE id = $1`,
      [e.subscriptionId],
    );
  }

  async markFailed(
    manager: EntityManager,
    e: PendingEvent,
    error: string,
    next: { failed: boolean; delayMs: number },
  ): Promise<void> {
    await manager.query(
      `UPDATE ${this.s}.subscription_events SET attempts = attempts + 1, last_error = $3,
         state = CASE WHEN $4 THEN 'failed' ELSE state END,
         next_attempt_at = now() + make_interval(secs => $5::float8 / 1000)
       WHERE subscription_id = $1 AND event_number = $2`,
      [e.subscriptionId, e.eventNumber, error.slice(0, 2000), next.failed, next.delayMs],
    );
    if (next.failed)
      await manager.query(
        `UPDATE ${this.s}.subscriptions SET status = 'error', error = $2 WHERE id = $1 AND status <> 'off'`,
        [
          e.subscriptionId,
          `${error}: event ${e.eventNumber}, ${e.attempts + 1} attempts`.slice(0, 2000),
        ],
      );
  }

  /**
   * Claims the subscriptions whose heartbeat is due (moves last_sent_at to now), and tells in how
   * many ms the next heartbeat of a live subscription falls due (undefined: none has any).
   */
  async claimHeartbeats(): Promise<{ due: StoredSubscription[]; nextInMs?: number }> {
    const live = `status IN ('active', 'error') AND heartbeat_seconds IS NOT NULL`;
    const dueAt = `COALESCE(last_sent_at, created_at) + make_interval(secs => heartbeat_seconds)`;
    // The CTE and the outer query see the table as it was: a claimed one is next due a period on.
    const [row] = (await this.dataSource.query(
      `WITH claimed AS (
         UPDATE ${this.s}.subscriptions SET last_sent_at = now()
         WHERE ${live} AND ${dueAt} < now()
         RETURNING *)
       SELECT (SELECT coalesce(json_agg(c), '[]') FROM claimed c) AS due,
         (SELECT (extract(epoch FROM min(
             CASE WHEN ${dueAt} < now() THEN now() + make_interval(secs => heartbeat_seconds) ELSE ${dueAt} END)
           - now()) * 1000)::float8
          FROM ${this.s}.subscriptions WHERE ${live}) AS next_in_ms`,
    )) as Array<{
      due: Array<Omit<Row, 'end_at'> & { end_at: string | null }>;
      next_in_ms: number | null;
    }>;
    return {
      due: row.due.map((r) =>
        toSubscription({ ...r, end_at: r.end_at ? new Date(r.end_at) : null }),
      ),
      // No live subscription with heartbeats: none due (min() of nothing is NULL).
      nextInMs: row.next_in_ms === null ? undefined : Math.max(0, row.next_in_ms),
    };
  }
}
