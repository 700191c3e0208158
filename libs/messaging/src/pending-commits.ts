export type PartitionOffset = { topic: string; partition: number; offset: string };

/**
 * Offsets read to but not committed yet, one per partition (the latest), sent together in one
 * request when the earliest of them is due (each `put` says within how long).
 */
export class PendingCommits {
  private readonly offsets = new Map<string, PartitionOffset>();
  private timer?: NodeJS.Timeout;
  private dueAt = Number.POSITIVE_INFINITY;
  /** Bumped when partitions are reassigned: a commit failing after that is not tried again. */
  private assignment = 0;
  private stopped = false;

  constructor(
    private readonly commit: (offsets: PartitionOffset[]) => Promise<void>,
    private readonly retryMs: number,
  ) {}

  put(topic: string, partition: number, nextOffset: string, withinMs: number): void {
    if (this.stopped) return;
    this.offsets.set(`${topic}:${partition}`, { topic, partition, offset: nextOffset });
    this.dueWithin(withinMs);
  }

  /** Partitions were reassigned: another member may own them now and be further on. */
  forget(): void {
    this.assignment += 1;
    this.offsets.clear();
  }

  /** The consumer is gone: nothing more is committed (what it still held is read again). */
  stop(): void {
    this.stopped = true;
    this.forget();
    clearTimeout(this.timer);
  }

  /** Sends what is held, then nothing more. */
  async close(): Promise<void> {
    await this.flush();
    this.stop();
  }

  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.dueAt = Number.POSITIVE_INFINITY;
    const offsets = [...this.offsets.values()];
    this.offsets.clear();
    if (offsets.length === 0) return;
    const assignment = this.assignment;
    try {
      await this.commit(offsets);
    } catch {
      // Tried again later unless the partitions were reassigned or the consumer stopped
      // meanwhile (both bump the assignment); at worst the messages are read again, and the
      // inbox knows them.
      if (assignment !== this.assignment) return;
      for (const entry of offsets) {
        const key = `${entry.topic}:${entry.partition}`;
        if (!this.offsets.has(key)) this.offsets.set(key, entry);
      }
      this.dueWithin(this.retryMs);
    }
  }

  private dueWithin(ms: number): void {
    const due = Date.now() + ms;
    if (due >= this.dueAt) return;
    clearTimeout(this.timer);
    this.dueAt = due;
    // A process is not kept alive for it: closing a subscription flushes.
    this.timer = setTimeout(() => void this.flush(), ms).unref();
  }
}
