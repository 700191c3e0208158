import type { DataSource, EntityManager } from 'typeorm';

export interface RemoteReferralRow {
  taskId: string;
  endpointId: string;
  state: 'pending' | 'done' | 'given-up';
  attempts: number;
  lastError?: string;
  firstSeenAt: Date;
}

interface Row {
  task_id: string;
  endpoint_id: string;
  state: RemoteReferralRow['state'];
  attempts: number;
  last_error: string | null;
  first_seen_at: Date;
}

const rowOf = (r: Row): RemoteReferralRow => ({
  taskId: r.task_id,
  endpointId: r.endpoint_id,
  state: r.state,
  attempts: r.attempts,
  lastError: r.last_error ?? undefined,
  firstSeenAt: r.first_seen_at,
});

/** The durable queue of CareRelay Tasks whose focus/for are to be fetched from an EHR. */
export class RemoteReferralStore {
  constructor(
    private readonly dataSource: DataSource,
    private readonly schema: string,
  ) {}

  private get t(): string {
    return `"${this.schema}".remote_referrals`;
  }

  /**
   * Queues the Task (in the consumer's inbox transaction). A Task done before and named again with
   * references on the EHR (its requester put them back) is queued afresh. Whether it was queued.
   */
  async enqueue(manager: EntityManager, taskId: string, endpointId: string): Promise<boolean> {
    const [, affected] = (await manager.query(
      `INSERT INTO ${this.t} (task_id, endpoint_id) VALUES ($1, $2)
       ON CONFLICT (task_id) DO UPDATE SET state = 'pending', endpoint_id = EXCLUDED.endpoint_id,
         attempts = 0, last_error = NULL, first_seen_at = now(), next_attempt_at = now(),
         updated_at = now()
       WHERE ${this.t}.state <> 'pending'
       RETURNING task_id`,
      [taskId, endpointId],
    )) as [unknown[], number];
    return affected > 0;
  }

  /**
   * Claims due Tasks: moves their next attempt a lease ahead in a short transaction, so that two
   * connector instances do not fetch the same referral at once (a crash retries after the lease).
   */
  async claimDue(limit: number, leaseMs: number): Promise<RemoteReferralRow[]> {
    const [rows] = (await this.dataSource.query(
      `UPDATE ${this.t} r SET next_attempt_at = now() + make_interval(secs => $2::double precision / 1000)
       WHERE r.task_id IN (SELECT task_id FROM ${this.t} WHERE state = 'pending'
         AND next_attempt_at <= now() ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
       RETURNING r.*`,
      [limit, leaseMs],
    )) as [Row[], number];
    return rows.map(rowOf);
  }

  /** The attempt that fetched it (`done`) or failed for the last time (`given-up`) is counted. */
  async finish(taskId: string, state: 'done' | 'given-up', error?: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE ${this.t} SET state = $2, last_error = $3, updated_at = now(),
         attempts = attempts + 1 WHERE task_id = $1`,
      [taskId, state, error?.slice(0, 2000) ?? null],
    );
  }

  async retryLater(taskId: string, delayMs: number, error: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE ${this.t} SET attempts = attempts + 1, last_error = $3, updated_at = now(),
         next_attempt_at = now() + make_interval(secs => $2::double precision / 1000)
       WHERE task_id = $1`,
      [taskId, delayMs, error.slice(0, 2000)],
    );
  }

  async list(state?: string): Promise<RemoteReferralRow[]> {
    const rows = (await this.dataSource.query(
      `SELECT * FROM ${this.t} WHERE $1::text IS NULL OR state = $1
       ORDER BY updated_at DESC LIMIT 500`,
      [state ?? null],
    )) as Row[];
    return rows.map(rowOf);
  }

  async get(taskId: string): Promise<RemoteReferralRow | undefined> {
    const [row] = (await this.dataSource.query(`SELECT * FROM ${this.t} WHERE task_id = $1`, [
      taskId,
    ])) as Row[];
    return row ? rowOf(row) : undefined;
  }
}
