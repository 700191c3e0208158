export interface AdmissionLimits {
  /** Requests served at once; more wait in the queue. */
  maxInFlight: number;
  /** Requests that may wait (in each lane); beyond, a request is refused at once. */
  maxQueued: number;
  /** Longest wait in the queue before a request is refused. */
  maxWaitMs: number;
  /**
   * Longest wait of a priority request (default `maxWaitMs`). Work under way may wait longer
   * than new work: refused, it fails and backs off, while a new request is simply sent again.
   */
  priorityMaxWaitMs?: number;
  /**
   * In-flight slots only priority requests may take (default 0): however many other requests
   * arrive, this many are left for priority ones.
   */
  reservedForPriority?: number;
}

interface Waiter {
  admit: () => void;
  timer: NodeJS.Timeout;
}

/**
 * Admission control: at most `maxInFlight` requests are served at once and at most `maxQueued`
 * wait (first come, first served) for at most `maxWaitMs`. What is over the limits is refused at
 * once, so that overload becomes fast refusals the client retries later, not an unbounded queue
 * in which every request grows slow together.
 *
 * Priority requests (work already under way, such as a referral's next step, against new work)
 * have a lane of their own: they go in before any other waiting request, and other requests
 * leave `reservedForPriority` slots to them.
 */
export class AdmissionGate {
  private inFlight = 0;
  private readonly queue: Waiter[] = [];
  private readonly priorityQueue: Waiter[] = [];
  private readonly reserved: number;
  refused = 0;

  constructor(private readonly limits: AdmissionLimits) {
    this.reserved = limits.reservedForPriority ?? 0;
    if (
      limits.maxInFlight < 1 ||
      limits.maxQueued < 0 ||
      limits.maxWaitMs < 0 ||
      (limits.priorityMaxWaitMs ?? 0) < 0 ||
      this.reserved < 0 ||
      this.reserved >= limits.maxInFlight
    )
      throw new Error(
        'admission limits: maxInFlight >= 1, maxQueued >= 0, waits >= 0, 0 <= reservedForPriority < maxInFlight',
      );
  }

  get active(): number {
    return this.inFlight;
  }

  get waiting(): number {
    return this.queue.length + this.priorityQueue.length;
  }

  /** Resolves true once admitted (call `leave()` when done), false when refused. */
  enter(priority = false): Promise<boolean> {
    const lane = priority ? this.priorityQueue : this.queue;
    // Nobody overtakes a waiting request of its own lane, nor one of the priority lane.
    const free =
      this.inFlight < this.capacity(priority) &&
      lane.length === 0 &&
      this.priorityQueue.length === 0;
    if (free) {
      this.inFlight += 1;
      return Promise.resolve(true);
    }
    if (lane.length >= this.limits.maxQueued) return Promise.resolve(this.refuse());
    return new Promise((resolve) => {
      const waiter: Waiter = {
        admit: () => {
          clearTimeout(waiter.timer);
          this.inFlight += 1;
          resolve(true);
        },
        timer: setTimeout(() => {
          lane.splice(lane.indexOf(waiter), 1);
          resolve(this.refuse());
        }, this.waitLimit(priority)),
      };
      lane.push(waiter);
    });
  }

  /** One admitted request is done: the longest-waiting priority request goes in, else another. */
  leave(): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (this.priorityQueue.length > 0) {
      if (this.inFlight < this.capacity(true)) this.priorityQueue.shift()?.admit();
    } else if (this.inFlight < this.capacity(false)) this.queue.shift()?.admit();
  }

  private waitLimit(priority: boolean): number {
    return priority
      ? (this.limits.priorityMaxWaitMs ?? this.limits.maxWaitMs)
      : this.limits.maxWaitMs;
  }

  private capacity(priority: boolean): number {
    return priority ? this.limits.maxInFlight : this.limits.maxInFlight - this.reserved;
  }

  private refuse(): false {
    this.refused += 1;
    return false;
  }
}
