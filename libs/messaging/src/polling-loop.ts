/**
 * The loop of a durable poller: runs `tick` now and then every `intervalMs`, never two ticks at
 * once, and waits for the running tick on stop. The work itself must be durable (rows claimed in
 * the database), so a tick lost to a crash is simply done by the next one.
 */
export interface PollingLoopOptions {
  intervalMs: number;
  tick: () => Promise<unknown>;
  onError: (error: Error) => void;
}

export class PollingLoop {
  private timer?: NodeJS.Timeout;
  private running = false;
  private ticking?: Promise<void>;
  private woken = false;

  constructor(private readonly options: PollingLoopOptions) {}

  start(initialDelayMs = 0): void {
    if (this.running) return;
    this.running = true;
    this.schedule(initialDelayMs);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.ticking;
  }

  /** Runs a tick now (or right after the running one) instead of at the next interval. */
  wake(): void {
    if (!this.running) return;
    if (this.ticking) {
      this.woken = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.ticking = this.options
        .tick()
        .then(() => undefined)
        .catch((error: unknown) =>
          this.options.onError(error instanceof Error ? error : new Error(String(error))),
        )
        .finally(() => {
          this.ticking = undefined;
          const woken = this.woken;
          this.woken = false;
          this.schedule(woken ? 0 : this.options.intervalMs);
        });
    }, delayMs);
    this.timer.unref();
  }
}
