import { safeErrorText } from '@carerelay/persistence';
import { DataSource, type DataSourceOptions, EntityManager } from 'typeorm';
import type { MessageBus } from './message-bus';
import { eventsPublished, trackOutboxBacklog } from './messaging.metrics';
import { outboxChannel } from './outbox.writer';
import { PollingLoop, QUIET_POLL_MS } from './polling-loop';

export interface OutboxRow {
  id: string;
  seq: string;
  topic: string;
  key: string;
  type: string;
  headers: Record<string, string>;
  payload: unknown;
}

export interface OutboxRelayOptions {
  schema: string;
  pollMs?: number;
  batchSize?: number;
  /** Sent rows older than this are deleted; they stay a while for inspection. */
  keepSentMs?: number;
  logger?: Pick<Console, 'warn' | 'error'>;
  /**
   * Connections of a pool of the relay's own while it runs (the service's pool otherwise): a
   * relay waiting behind requests for a connection of theirs delays every event.
   */
  poolSize?: number;
}

/**
 * What ends the application_name of a relay's own connections: they only claim, publish and mark
 * outbox rows, never write anything else (see SearchRepository.safeHorizon).
 */
export const OUTBOX_RELAY_APPLICATION_SUFFIX = '-outbox-relay';

/**
 * Publishes committed outbox rows. Rows are claimed with FOR UPDATE SKIP LOCKED, so several
 * relays (in several processes) share the work; the claim is held until the rows are published
 * (acks=all) and marked sent, so a crash in between means they are published again: consumers
 * are idempotent. Per key, rows go out in seq order: a relay leaves a key alone while an older
 * unsent row of that key is held by another relay.
 */
export class OutboxRelay {
  private readonly batchSize: number;
  private readonly keepSentMs: number;
  private readonly loop: PollingLoop;
  /** The relay's own pool while it runs (options.poolSize). */
  private ownPool?: DataSource;
  private lastCleanup = 0;
  published = 0;

  constructor(
    private readonly dataSource: DataSource,
    private readonly bus: MessageBus,
    private readonly options: OutboxRelayOptions,
  ) {
    this.batchSize = options.batchSize ?? 200;
    this.keepSentMs = options.keepSentMs ?? 24 * 3600 * 1000;
    this.loop = new PollingLoop({
      intervalMs: options.pollMs ?? 200,
      // Every outbox row is written with a NOTIFY on this channel (OutboxWriter): polling is only
      // the safety net while listening, or the wait for rows another relay holds.
      quietIntervalMs: QUIET_POLL_MS,
      dueInMs: (heldElsewhere) => (heldElsewhere ? (options.pollMs ?? 200) : undefined),
      tick: () => this.tick(),
      onError: (error) =>
        this.options.logger?.warn?.(
          `outbox relay (${this.options.schema}): ${safeErrorText(error)}`,
        ),
      notify: {
        url: (dataSource.options as { url?: string }).url,
        channel: outboxChannel(options.schema),
      },
    });
  }

  private untrackBacklog?: () => void;

  async start(): Promise<void> {
    if (this.loop.isRunning) return;
    await this.openOwnPool();
    this.untrackBacklog = trackOutboxBacklog(this.options.schema, () => this.backlog());
    await this.loop.start();
  }

  async stop(): Promise<void> {
    this.untrackBacklog?.();
    this.untrackBacklog = undefined;
    await this.loop.stop();
    const pool = this.ownPool;
    this.ownPool = undefined;
    if (pool?.isInitialized) await pool.destroy().catch(() => undefined);
  }

  /** Publishes until the outbox holds nothing this relay can claim; returns how many it sent. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const { sent } = await this.publishBatch();
      total += sent;
      if (sent === 0) return total;
    }
  }

  /** Unsent rows: the backlog a metric or health check reports. */
  async backlog(): Promise<number> {
    const [row] = await this.db.query(
      `SELECT count(*)::int AS n FROM "${this.options.schema}".outbox WHERE sent_at IS NULL`,
    );
    return row.n;
  }

  /** Where the relay's statements go: its own pool while it runs with one, else the service's. */
  private get db(): DataSource {
    return this.ownPool ?? this.dataSource;
  }

  private async openOwnPool(): Promise<void> {
    const size = this.options.poolSize;
    const base = this.dataSource.options as DataSourceOptions & {
      url?: string;
      applicationName?: string;
      extra?: Record<string, unknown>;
    };
    if (!size || size < 1 || base.type !== 'postgres' || !base.url) return;
    const pool = new DataSource({
      ...base,
      entities: [],
      migrations: [],
      subscribers: [],
      migrationsRun: false,
      synchronize: false,
      applicationName: `${base.applicationName ?? 'carerelay'}${OUTBOX_RELAY_APPLICATION_SUFFIX}`,
      extra: { ...(base.extra ?? {}), max: size },
    } as DataSourceOptions);
    try {
      await pool.initialize();
      this.ownPool = pool;
    } catch (error) {
      // Publishing through the service's pool is slower under load, not wrong.
      this.options.logger?.warn?.(
        `outbox relay (${this.options.schema}): no pool of its own, sharing the service's: ${safeErrorText(error)}`,
      );
    }
  }

  /**
   * One wake: batches until one comes back short. Rows committed meanwhile notify again, and the
   * loop then ticks once more; a last pass to find the outbox empty (3 statements) would only
   * repeat what the short batch already showed. Returns whether rows were left for another
   * relay to publish first (their NOTIFY was spent: this relay polls for them).
   */
  private async tick(): Promise<boolean> {
    let heldElsewhere: boolean;
    for (;;) {
      const { claimed, sent } = await this.publishBatch();
      heldElsewhere = sent < claimed;
      if (sent === 0 || claimed < this.batchSize) break;
    }
    await this.cleanupSentRows();
    return heldElsewhere;
  }

  /** One batch: how many rows it claimed (a full batch: more may wait) and how many it sent. */
  private async publishBatch(): Promise<{ claimed: number; sent: number }> {
    let failure: Error | undefined;
    const result = await this.db.transaction(async (manager) => {
      const claimed = await this.claim(manager);
      const rows = claimed.filter((row) => row.olderHeldElsewhere === 0);
      // Nothing claimable, or every row waits for an older one held elsewhere: nothing to redo.
      if (rows.length === 0) return { claimed: claimed.length, sent: 0 };
      try {
        await this.bus.publish(
          rows.map((row) => ({
            topic: row.topic,
            key: row.key,
            value: JSON.stringify(row.payload),
            headers: row.headers,
          })),
        );
      } catch (error) {
        failure = error as Error;
        await this.recordFailure(manager, rows, failure);
        return { claimed: claimed.length, sent: 0 };
      }
      await this.markSent(manager, rows);
      this.published += rows.length;
      eventsPublished.inc({ schema: this.options.schema }, rows.length);
      return { claimed: claimed.length, sent: rows.length };
    });
    if (failure) throw failure;
    return result;
  }

  /**
   * Up to a batch of unsent rows, locked, in seq order. Per key, only the rows with no older unsent
   * row held elsewhere (locked by another relay, so skipped here) may go out now, so that a key's
   * events keep their order while several relays run: of the key's unsent rows before a row, those
   * not claimed here (`olderHeldElsewhere`) must be none for the row to go out.
   * One statement: the count sees the claim's snapshot, where a row another relay has published
   * since may still count as unsent; the row then waits for the next pass (never the reverse).
   */
  protected async claim(
    manager: EntityManager,
  ): Promise<Array<OutboxRow & { olderHeldElsewhere: number }>> {
    const s = this.options.schema;
    const rows: Array<OutboxRow & { older: number }> = await manager.query(
      `WITH claimed AS (
         SELECT id, seq, topic, key, type, headers, payload FROM "${s}".outbox
         WHERE sent_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED)
       SELECT c.*, (SELECT count(*)::int FROM "${s}".outbox p
                    WHERE p.sent_at IS NULL AND p.key = c.key AND p.seq < c.seq) AS older
       FROM claimed c ORDER BY c.seq`,
      [this.batchSize],
    );
    const claimedSoFar = new Map<string, number>();
    return rows.map(({ older, ...row }) => {
      const rank = claimedSoFar.get(row.key) ?? 0;
      claimedSoFar.set(row.key, rank + 1);
      return { ...row, olderHeldElsewhere: older - rank };
    });
  }

  protected async markSent(manager: EntityManager, rows: OutboxRow[]): Promise<void> {
    await manager.query(
      `UPDATE "${this.options.schema}".outbox SET sent_at = now(), publish_attempts = publish_attempts + 1
       WHERE id = ANY($1)`,
      [rows.map((row) => row.id)],
    );
  }

  /**
   * In the claiming transaction, which holds the rows' locks: an update from another connection
   * would wait for them while this transaction waits for it, and the relay would hang for good.
   */
  private async recordFailure(
    manager: EntityManager,
    rows: OutboxRow[],
    error: Error,
  ): Promise<void> {
    await manager.query(
      `UPDATE "${this.options.schema}".outbox SET publish_attempts = publish_attempts + 1, last_error = $2
       WHERE id = ANY($1)`,
      [rows.map((row) => row.id), error.message.slice(0, 1000)],
    );
  }

  private async cleanupSentRows(): Promise<void> {
    if (Date.now() - this.lastCleanup < 60_000) return;
    this.lastCleanup = Date.now();
    await this.db.query(
      `DELETE FROM "${this.options.schema}".outbox WHERE sent_at < now() - ($1::bigint * interval '1 millisecond')`,
      [this.keepSentMs],
    );
  }
}
