import { safeErrorText } from '@carerelay/persistence';
import { DataSource, EntityManager } from 'typeorm';
import { Client } from 'pg';
import type { MessageBus } from './message-bus';
import { eventsPublished, trackOutboxBacklog } from './messaging.metrics';
import { outboxChannel } from './outbox.writer';

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
}

/**
 * Publishes committed outbox rows. Rows are claimed with FOR UPDATE SKIP LOCKED, so several
 * relays (in several processes) share the work; the claim is held until the rows are published
 * (acks=all) and marked sent, so a crash in between means they are published again: consumers
 * are idempotent. Per key, rows go out in seq order: a relay leaves a key alone while an older
 * unsent row of that key is held by another relay.
 */
export class OutboxRelay {
  private readonly pollMs: number;
  private readonly batchSize: number;
  private readonly keepSentMs: number;
  private timer?: NodeJS.Timeout;
  private listener?: Client;
  private running = false;
  private draining?: Promise<void>;
  private wakeRequested = false;
  private lastCleanup = 0;
  published = 0;

  constructor(
    private readonly dataSource: DataSource,
    private readonly bus: MessageBus,
    private readonly options: OutboxRelayOptions,
  ) {
    this.pollMs = options.pollMs ?? 200;
    this.batchSize = options.batchSize ?? 200;
    this.keepSentMs = options.keepSentMs ?? 24 * 3600 * 1000;
  }

  private untrackBacklog?: () => void;

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.untrackBacklog = trackOutboxBacklog(this.options.schema, () => this.backlog());
    await this.listen();
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.untrackBacklog?.();
    if (this.timer) clearTimeout(this.timer);
    await this.draining;
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
  }

  /** Publishes until the outbox holds nothing this relay can claim; returns how many it sent. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const sent = await this.publishBatch();
      total += sent;
      if (sent === 0) return total;
    }
  }

  /** Unsent rows: the backlog a metric or health check reports. */
  async backlog(): Promise<number> {
    const [row] = await this.dataSource.query(
      `SELECT count(*)::int AS n FROM "${this.options.schema}".outbox WHERE sent_at IS NULL`,
    );
    return row.n;
  }

  private async listen(): Promise<void> {
    const url = (this.dataSource.options as { url?: string }).url;
    if (!url) return;
    const client = new Client({ connectionString: url });
    client.on('error', () => undefined); // polling goes on without notifications
    client.on('notification', () => this.wake());
    try {
      await client.connect();
      await client.query(`LISTEN ${outboxChannel(this.options.schema)}`);
      this.listener = client;
    } catch {
      await client.end().catch(() => undefined);
    }
  }

  private wake(): void {
    if (!this.running) return;
    if (this.draining) {
      this.wakeRequested = true;
      return;
    }
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.draining = this.tick().finally(() => {
        this.draining = undefined;
        const again = this.wakeRequested;
        this.wakeRequested = false;
        this.schedule(again ? 0 : this.pollMs);
      });
    }, delayMs);
  }

  private async tick(): Promise<void> {
    try {
      await this.drain();
      await this.cleanupSentRows();
    } catch (error) {
      this.options.logger?.warn?.(`outbox relay (${this.options.schema}): ${safeErrorText(error)}`);
    }
  }

  private async publishBatch(): Promise<number> {
    let failure: Error | undefined;
    const sent = await this.dataSource.transaction(async (manager) => {
      const rows = await this.claim(manager);
      if (rows.length === 0) return 0;
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
        return 0;
      }
      await this.markSent(manager, rows);
      this.published += rows.length;
      eventsPublished.inc({ schema: this.options.schema }, rows.length);
      return rows.length;
    });
    if (failure) throw failure;
    return sent;
  }

  protected async claim(manager: EntityManager): Promise<OutboxRow[]> {
    const s = this.options.schema;
    const rows: OutboxRow[] = await manager.query(
      `SELECT id, seq, topic, key, type, headers, payload FROM "${s}".outbox
       WHERE sent_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [this.batchSize],
    );
    if (rows.length === 0) return rows;
    // Per key, only the rows with no older unsent row held elsewhere go out now, so that a key's
    // events keep their order even while several relays run.
    const older: Array<{ id: string; older: number }> = await manager.query(
      `SELECT o.id, (SELECT count(*)::int FROM "${s}".outbox p
                     WHERE p.sent_at IS NULL AND p.key = o.key AND p.seq < o.seq) AS older
       FROM "${s}".outbox o WHERE o.id = ANY($1)`,
      [rows.map((row) => row.id)],
    );
    const olderById = new Map(older.map((row) => [row.id, row.older]));
    const claimedSoFar = new Map<string, number>();
    return rows.filter((row) => {
      const rank = claimedSoFar.get(row.key) ?? 0;
      claimedSoFar.set(row.key, rank + 1);
      return olderById.get(row.id) === rank;
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
    await this.dataSource.query(
      `DELETE FROM "${this.options.schema}".outbox WHERE sent_at < now() - ($1::bigint * interval '1 millisecond')`,
      [this.keepSentMs],
    );
  }
}
