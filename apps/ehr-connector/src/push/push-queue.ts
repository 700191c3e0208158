import { DataSource, EntityManager } from 'typeorm';
import { dueKeys, type DueKeys } from '@carerelay/messaging';
import type { Resource } from '@carerelay/fhir-client';
import type { PushEcho } from './ehr-task-pusher';

export type DeliveryState = 'pending' | 'delivered' | 'superseded' | 'parked';

export interface PushDelivery {
  id: string;
  taskId: string;
  version: number;
  task: Resource;
  changedAt: string;
  state: DeliveryState;
  attempts: number;
  nextAttemptAt: string;
  lastError?: string;
  endpointId: string;
  ehrTaskId: string;
  createdAt: string;
  deliveredAt?: string;
}

interface Row {
  id: string;
  task_id: string;
  version: number;
  task: Resource;
  changed_at: Date;
  state: DeliveryState;
  attempts: number;
  next_attempt_at: Date;
  last_error: string | null;
  endpoint_id: string;
  ehr_task_id: string;
  created_at: Date;
  delivered_at: Date | null;
}

const toDelivery = (row: Row): PushDelivery => ({
  id: String(row.id),
  taskId: row.task_id,
  version: row.version,
  task: row.task,
  changedAt: row.changed_at.toISOString(),
  state: row.state,
  attempts: row.attempts,
  nextAttemptAt: row.next_attempt_at.toISOString(),
  lastError: row.last_error ?? undefined,
  endpointId: row.endpoint_id,
  ehrTaskId: row.ehr_task_id,
  createdAt: row.created_at.toISOString(),
  deliveredAt: row.delivered_at?.toISOString(),
});

const SELECT = `SELECT d.*, t.endpoint_id, t.ehr_task_id`;

/** One CareRelay Task version to queue for an EHR. */
export interface PushItem {
  taskId: string;
  version: number;
  task: Resource;
  changedAt: string;
  endpointId: string;
  ehrTaskId: string;
}

/**
 * The durable push queue: one row per CareRelay Task version to write to an EHR. A Task's
 * versions are delivered one after another in version order; `push_tasks.delivered_version` is
 * the newest version the EHR holds, and nothing at or below it is ever written again.
 */
export class PushQueue {
  constructor(
    private readonly dataSource: DataSource,
    private readonly schema: string,
  ) {}

  private get s(): string {
    return `"${this.schema}"`;
  }

  /**
   * In the consumer's inbox transaction: queues Task versions, all in two statements (a whole
   * batch of the consumer at once). A version seen twice is queued once, and one at or below what
   * the EHR already holds not at all. A Task is pushed to the endpoint it was first queued for.
   * Returns the versions queued.
   */
  async enqueue(manager: EntityManager, items: PushItem[]): Promise<PushItem[]> {
    if (items.length === 0) return [];
    const rows = JSON.stringify(
      items.map((item) => ({
        task_id: item.taskId,
        version: item.version,
        task: item.task,
        changed_at: item.changedAt,
        endpoint_id: item.endpointId,
        ehr_task_id: item.ehrTaskId,
      })),
    );
    const recordset = `ROWS FROM (jsonb_to_recordset($1::jsonb) AS (task_id text, version int,
      task jsonb, changed_at timestamptz, endpoint_id text, ehr_task_id text))
      WITH ORDINALITY AS i(task_id, version, task, changed_at, endpoint_id, ehr_task_id, n)`;
    await manager.query(
      `INSERT INTO ${this.s}.push_tasks (task_id, endpoint_id, ehr_task_id)
       SELECT DISTINCT ON (task_id) task_id, endpoint_id, ehr_task_id FROM ${recordset}
       ORDER BY task_id, n
       ON CONFLICT (task_id) DO NOTHING`,
      [rows],
    );
    const queued: Array<{ task_id: string; version: number }> = await manager.query(
      `INSERT INTO ${this.s}.push_deliveries (task_id, version, task, changed_at)
       SELECT i.task_id, i.version, i.task, i.changed_at FROM ${recordset}
       JOIN ${this.s}.push_tasks t USING (task_id) WHERE i.version > t.delivered_version
       ORDER BY i.n
       ON CONFLICT (task_id, version) DO NOTHING RETURNING task_id, version`,
      [rows],
    );
    const key = (taskId: string, version: number) => `${taskId}/${version}`;
    const fresh = new Set(queued.map((row) => key(row.task_id, row.version)));
    return items.filter((item) => fresh.delete(key(item.taskId, item.version)));
  }

  /** Tasks with a pending delivery that is due (the lowest pending version of each Task is due). */
  dueTasks(limit: number): Promise<DueKeys> {
    return dueKeys(
      this.dataSource,
      { table: `${this.s}.push_deliveries`, key: 'task_id', order: 'version' },
      limit,
    );
  }

  /**
   * Runs `fn` holding the Task's push lock (a transaction-scoped advisory lock), or returns false
   * at once when another worker holds it. The lock is its own statement: a read in the same
   * statement would use a snapshot taken before the lock, and could miss what the previous
   * holder delivered just before releasing it, then push an older version over a newer one.
   */
  async withTaskLock(
    taskId: string,
    fn: (manager: EntityManager) => Promise<void>,
  ): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      const [{ locked }] = await manager.query(
        'SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked',
        [`ehr-push:${this.schema}:${taskId}`],
      );
      if (!locked) return false;
      await fn(manager);
      return true;
    });
  }

  /** A Task's pending versions in order, and the newest version the EHR holds, in one query. */
  async pendingOf(
    manager: EntityManager,
    taskId: string,
  ): Promise<{ deliveredVersion: number; pending: PushDelivery[] }> {
    const rows = (await manager.query(
      `${SELECT}, t.delivered_version FROM ${this.s}.push_deliveries d JOIN ${this.s}.push_tasks t USING (task_id)
       WHERE d.task_id = $1 AND d.state = 'pending' ORDER BY d.version`,
      [taskId],
    )) as Array<Row & { delivered_version: number }>;
    return { deliveredVersion: rows[0]?.delivered_version ?? 0, pending: rows.map(toDelivery) };
  }

  /**
   * The version is on the EHR: delivered, the newest the EHR holds, and anything older still
   * waiting (a parked version replayed late, say) superseded so that it never follows it. One
   * statement. With the `echo` of the write, the EHR version it made is recorded as the pull's
   * applied version when the pull had applied the one it replaced, so that the pull passes over
   * the echo instead of applying it as a change (applying it would only record it: the status
   * written is CareRelay's own), while a clinician's version the pull has not applied stays
   * the pull's to apply.
   */
  async markDelivered(
    manager: EntityManager,
    delivery: PushDelivery,
    echo?: PushEcho,
  ): Promise<void> {
    const parameters: unknown[] = [delivery.id, delivery.taskId, delivery.version];
    let recordEcho = '';
    if (echo) {
      parameters.push(
        delivery.endpointId,
        delivery.ehrTaskId,
        echo.replacedVersionId,
        echo.versionId,
        echo.lastUpdated ?? null,
      );
      recordEcho = `,
       echo AS (
         UPDATE ${this.s}.pulled_tasks SET ehr_version_id = $7, ehr_last_updated = $8::timestamptz
         WHERE endpoint_id = $4 AND ehr_task_id = $5 AND ehr_version_id = $6)`;
    }
    await manager.query(
      `WITH delivered AS (
         UPDATE ${this.s}.push_deliveries SET state = 'delivered', delivered_at = now(),
           attempts = attempts + 1, last_error = NULL
         WHERE id = $1),
       newest AS (
         UPDATE ${this.s}.push_tasks SET delivered_version = GREATEST(delivered_version, $3),
           delivered_at = now()
         WHERE task_id = $2)${recordEcho}
       UPDATE ${this.s}.push_deliveries SET state = 'superseded'
       WHERE task_id = $2 AND version < $3 AND state IN ('pending', 'parked')`,
      parameters,
    );
  }

  /**
   * A version the EHR's own state overrides (its Task is final or ahead): superseded, with why,
   * and counted as the newest the EHR has seen so that nothing older is written after it.
   */
  async markNotWritten(manager: EntityManager, delivery: PushDelivery, why: string): Promise<void> {
    await this.markDelivered(manager, delivery);
    await manager.query(
      `UPDATE ${this.s}.push_deliveries SET state = 'superseded', last_error = $2 WHERE id = $1`,
      [delivery.id, why.slice(0, 2000)],
    );
  }

  async markSuperseded(manager: EntityManager, delivery: PushDelivery): Promise<void> {
    await manager.query(`UPDATE ${this.s}.push_deliveries SET state = 'superseded' WHERE id = $1`, [
      delivery.id,
    ]);
  }

  async markFailed(
    manager: EntityManager,
    delivery: PushDelivery,
    error: string,
    next: { parked: boolean; delayMs: number },
  ): Promise<void> {
    await manager.query(
      `UPDATE ${this.s}.push_deliveries SET attempts = attempts + 1, last_error = $2,
         state = CASE WHEN $3 THEN 'parked' ELSE state END,
         next_attempt_at = now() + make_interval(secs => $4::float8 / 1000)
       WHERE id = $1`,
      [delivery.id, error.slice(0, 2000), next.parked, next.delayMs],
    );
  }

  async list(state: DeliveryState, limit = 100): Promise<PushDelivery[]> {
    const rows = (await this.dataSource.query(
      `${SELECT} FROM ${this.s}.push_deliveries d JOIN ${this.s}.push_tasks t USING (task_id)
       WHERE d.state = $1 ORDER BY d.id LIMIT $2`,
      [state, limit],
    )) as Row[];
    return rows.map(toDelivery);
  }

  async ofTask(taskId: string): Promise<PushDelivery[]> {
    const rows = (await this.dataSource.query(
      `${SELECT} FROM ${this.s}.push_deliveries d JOIN ${this.s}.push_tasks t USING (task_id)
       WHERE d.task_id = $1 ORDER BY d.version`,
      [taskId],
    )) as Row[];
    return rows.map(toDelivery);
  }

  /**
   * A coordinator's replay of a parked delivery: pending again with fresh attempts. A parked
   * version older than what the EHR already holds is superseded instead (never written back).
   */
  async replay(id: string): Promise<PushDelivery | undefined> {
    const [rows] = (await this.dataSource.query(
      `UPDATE ${this.s}.push_deliveries d SET
         state = CASE WHEN d.version <= t.delivered_version THEN 'superseded' ELSE 'pending' END,
         attempts = 0, next_attempt_at = now()
       FROM ${this.s}.push_tasks t
       WHERE d.id = $1 AND d.state = 'parked' AND t.task_id = d.task_id
       RETURNING d.id`,
      [id],
    )) as [{ id: string }[], number];
    if (rows.length === 0) return undefined;
    const [row] = (await this.dataSource.query(
      `${SELECT} FROM ${this.s}.push_deliveries d JOIN ${this.s}.push_tasks t USING (task_id) WHERE d.id = $1`,
      [id],
    )) as Row[];
    return toDelivery(row);
  }
}
