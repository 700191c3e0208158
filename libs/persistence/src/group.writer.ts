/**
 * Group commit for rows written on their own (no caller transaction): a row handed in while a
 * write is in flight waits for it and goes out with the others in the next one, so N concurrent
 * callers cost about one statement instead of N. Each caller still learns whether its own row was
 * written: `write` resolves once the statement holding it has committed, and rejects with that
 * statement's error. With nothing in flight a row goes out at once, so a lone caller waits no
 * longer than before; unless `gatherTick`: then the first write waits for the end of the current
 * turn of the event loop, so that callers started by the same I/O event (the partitions' batches
 * of one Kafka fetch) go out together.
 */
export class GroupWriter<T> {
  private queued: { rows: T[]; resolve: () => void; reject: (error: unknown) => void }[] = [];
  private flushing = false;

  constructor(
    private readonly writeRows: (rows: T[]) => Promise<void>,
    private readonly maxRows = 500,
    private readonly gatherTick = false,
  ) {}

  write(row: T): Promise<void> {
    return this.writeMany([row]);
  }

  /**
   * Writes these rows in one statement (never split; alone when more than `maxRows`), with the
   * rows of other callers that are queued beside them.
   */
  writeMany(rows: T[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queued.push({ rows, resolve, reject });
      if (this.flushing) return;
      if (!this.gatherTick) return void this.flush();
      this.flushing = true;
      setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.queued.length > 0) {
      let callers = 1;
      let rows = this.queued[0].rows.length;
      while (
        callers < this.queued.length &&
        rows + this.queued[callers].rows.length <= this.maxRows
      ) {
        rows += this.queued[callers].rows.length;
        callers++;
      }
      const batch = this.queued.splice(0, callers);
      try {
        await this.writeRows(batch.flatMap((entry) => entry.rows));
        for (const entry of batch) entry.resolve();
      } catch (error) {
        for (const entry of batch) entry.reject(error);
      }
    }
    this.flushing = false;
  }
}
