import { Client } from 'pg';
import { poolSettingsOf } from '@carerelay/persistence';

/**
 * The loop of a durable poller: runs `tick` now and then every `intervalMs`, never two ticks at
 * once, and waits for the running tick on stop. The work itself must be durable (rows claimed in
 * the database), so a tick lost to a crash is simply done by the next one. A poller keeps only
 * its own tick(); the loop is written once here.
 */
export interface PollingLoopOptions {
  intervalMs: number;
  tick: () => Promise<unknown>;
  onError: (error: Error) => void;
  /** Whether the tick's result means more is waiting (a full batch): the next tick runs at once. */
  again?: (result: unknown) => boolean;
  /**
   * A PostgreSQL LISTEN channel whose NOTIFY wakes the loop at once (work queued by another
   * transaction); polling goes on as well, for notifications missed while disconnected.
   */
  notify?: { url?: string; channel: string };
  /**
   * The wait after a tick that went through while the LISTEN connection is up: every producer
   * of work notifies, so polling is then only a safety net, and an idle network stops asking its
   * database every `intervalMs`. A failed tick, or no connection, waits `intervalMs`.
   */
  quietIntervalMs?: number;
  /**
   * After a tick, in how many ms work the tick knows of falls due (a retry's backoff, a
   * heartbeat); the loop waits no longer than that. Undefined: none known.
   */
  dueInMs?: (result: unknown) => number | undefined;
}

/**
 * The safety-net poll of a loop whose every producer of work NOTIFYs it (`quietIntervalMs`): a
 * notification lost with the connection is noticed within this.
 */
export const QUIET_POLL_MS = 10_000;

export class PollingLoop {
  private timer?: NodeJS.Timeout;
  private running = false;
  private ticking?: Promise<void>;
  private wakeAgain = false;
  private listener?: Client;
  private relistenTimer?: NodeJS.Timeout;
  private relistening = false;
  private timerDueAt = 0;

  constructor(private readonly options: PollingLoopOptions) {}

  get isRunning(): boolean {
    return this.running;
  }

  /**
   * Starts ticking after `initialDelayMs`, once the LISTEN connection (if any) is up: work queued
   * before that is found by the first tick, work queued after it notifies.
   */
  async start(initialDelayMs = 0): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.listen();
    this.schedule(initialDelayMs);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.relistenTimer) clearTimeout(this.relistenTimer);
    await this.ticking;
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
  }

  /** Ticks now, or right after the running tick (work arrived while it ran). */
  wake(): void {
    if (!this.running) return;
    if (this.ticking) {
      this.wakeAgain = true;
      return;
    }
    this.run();
  }

  private run(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    let wait = this.options.intervalMs;
    this.ticking = this.options
      .tick()
      .then((result) => {
        if (this.options.again?.(result)) wait = 0;
        else {
          if (this.listener && this.options.quietIntervalMs !== undefined)
            wait = this.options.quietIntervalMs;
          const due = this.options.dueInMs?.(result);
          if (due !== undefined) wait = Math.min(wait, Math.max(0, due));
        }
      })
      .catch((error: unknown) =>
        this.options.onError(error instanceof Error ? error : new Error(String(error))),
      )
      .finally(() => {
        this.ticking = undefined;
        if (this.wakeAgain) wait = 0;
        this.wakeAgain = false;
        this.schedule(wait);
      });
  }

  /** The connection is lost while a quiet wait runs: poll at the normal interval instead. */
  private pollSoon(): void {
    if (this.timer && this.timerDueAt - Date.now() > this.options.intervalMs)
      this.schedule(this.options.intervalMs);
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDueAt = Date.now() + delayMs;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.ticking) this.wakeAgain = true;
      else this.run();
    }, delayMs);
    this.timer.unref();
  }

  private async listen(): Promise<void> {
    const notify = this.options.notify;
    if (!notify?.url || !this.running) return;
    // The pools' connect timeout and keep-alive: a LISTEN connection only ever reads, so
    // keep-alive is how a silently cut one is noticed.
    const client = new Client({
      connectionString: notify.url,
      // Named for pg_stat_activity, where the pools' connections carry their service's name.
      application_name: `carerelay-listen-${notify.channel}`.slice(0, 63),
      ...poolSettingsOf({}, { withQueryTimeout: false }),
    });
    let lost = false;
    const relisten = () => {
      if (lost) return;
      lost = true;
      if (this.listener === client) this.listener = undefined;
      void client.end().catch(() => undefined);
      this.relistening = true;
      // Polling goes on meanwhile (every intervalMs); notifications resume once connected again.
      if (this.running) {
        this.pollSoon();
        this.relistenTimer = setTimeout(() => void this.listen(), LISTEN_RETRY_MS);
        this.relistenTimer.unref();
      }
    };
    client.on('error', relisten);
    client.on('end', relisten);
    client.on('notification', () => this.wake());
    try {
      await client.connect();
      await client.query(`LISTEN ${notify.channel}`);
      if (this.running && !lost) {
        this.listener = client;
        // Listening again: what was queued since the last poll notified nobody.
        if (this.relistening) this.wake();
      } else await client.end();
    } catch {
      relisten();
    }
  }
}

const LISTEN_RETRY_MS = 2_000;
