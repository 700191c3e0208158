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
}

export class PollingLoop {
  private timer?: NodeJS.Timeout;
  private running = false;
  private ticking?: Promise<void>;
  private wakeAgain = false;
  private listener?: Client;
  private relistenTimer?: NodeJS.Timeout;

  constructor(private readonly options: PollingLoopOptions) {}

  get isRunning(): boolean {
    return this.running;
  }

  /** Starts ticking after `initialDelayMs`; resolves once the LISTEN connection (if any) is up. */
  async start(initialDelayMs = 0): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.schedule(initialDelayMs);
    await this.listen();
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
    let more = false;
    this.ticking = this.options
      .tick()
      .then((result) => {
        more = this.options.again?.(result) ?? false;
      })
      .catch((error: unknown) =>
        this.options.onError(error instanceof Error ? error : new Error(String(error))),
      )
      .finally(() => {
        this.ticking = undefined;
        const now = more || this.wakeAgain;
        this.wakeAgain = false;
        this.schedule(now ? 0 : this.options.intervalMs);
      });
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
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
      ...poolSettingsOf({}, { withQueryTimeout: false }),
    });
    let lost = false;
    const relisten = () => {
      if (lost) return;
      lost = true;
      if (this.listener === client) this.listener = undefined;
      void client.end().catch(() => undefined);
      // Polling goes on meanwhile; notifications resume once connected again.
      if (this.running) {
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
      if (this.running && !lost) this.listener = client;
      else await client.end();
    } catch {
      relisten();
    }
  }
}

const LISTEN_RETRY_MS = 2_000;
