/**
 * Group commit: what is handed in while a run is going waits and goes together into the next run,
 * so concurrent callers share one transaction (one BEGIN, inbox statement and COMMIT, each
 * deferred writer's one statement) instead of queueing for a transaction each. Nothing waits on
 * purpose: a caller alone runs at once; callers are grouped only when they would wait anyway.
 */
export class GroupCommit<T> {
  private waiting: Array<Participant<T>> = [];
  private running = false;

  constructor(private readonly run: (items: T[]) => Promise<void>) {}

  /**
   * Resolves once `items` have been run (committed). Rejects with the run's error when they ran
   * alone, and with `JointRunFailed` when the failed run also held other callers' items: which
   * of them failed it is unknown, so each caller should try its own again alone.
   */
  submit(items: T[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ items, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.waiting.length > 0) {
      const group = this.waiting;
      this.waiting = [];
      try {
        await this.run(group.flatMap((participant) => participant.items));
        for (const participant of group) participant.resolve();
      } catch (error) {
        for (const participant of group)
          participant.reject(group.length > 1 ? new JointRunFailed(error) : error);
      }
    }
    this.running = false;
  }
}

/** A run that held several callers' items failed; see `GroupCommit.submit`. */
export class JointRunFailed extends Error {
  override name = 'JointRunFailed';

  constructor(readonly failure: unknown) {
    super('a run shared with other callers failed');
  }
}

interface Participant<T> {
  items: T[];
  resolve: () => void;
  reject: (error: unknown) => void;
}
