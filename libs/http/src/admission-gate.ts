export interface AdmissionLimits {
  /** Requests served at once; more wait in the queue. */
  maxInFlight: number;
  /** Requests that may wait; beyond, a request is refused at once. */
  maxQueued: number;
  /** Longest wait in the queue before a request is refused. */
  maxWaitMs: number;
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
 */
export class AdmissionGate {
  private inFlight = 0;
  private readonly queue: Waiter[] = [];
  refused = 0;

  constructor(private readonly limits: AdmissionLimits) {
    if (limits.maxInFlight < 1 || limits.maxQueued < 0 || limits.maxWaitMs < 0)
      throw new Error('admission limits: maxInFlight >= 1, maxQueued >= 0, maxWaitMs >= 0');
  }

  get active(): number {
    return this.inFlight;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** Resolves true once admitted (call `leave()` when done), false when refused. */
  enter(): Promise<boolean> {
    if (this.inFlight < this.limits.maxInFlight && this.queue.length === 0) {
      this.inFlight += 1;
      return Promise.resolve(true);
    }
    if (this.queue.length >= this.limits.maxQueued) return Promise.resolve(this.refuse());
    return new Promise((resolve) => {
      const waiter: Waiter = {
        admit: () => {
          clearTimeout(waiter.timer);
          this.inFlight += 1;
          resolve(true);
        },
        timer: setTimeout(() => {
          this.queue.splice(this.queue.indexOf(waiter), 1);
          resolve(this.refuse());
        }, this.limits.maxWaitMs),
      };
      this.queue.push(waiter);
    });
  }

  /** One admitted request is done: the longest-waiting one goes in. */
  leave(): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (this.inFlight < this.limits.maxInFlight) this.queue.shift()?.admit();
  }

  private refuse(): false {
    this.refused += 1;
    return false;
  }
}
