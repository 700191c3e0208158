/** One lane of an admission gate: its requests' longest wait, and the slots kept for it. */
export interface AdmissionLane {
  /** Longest wait in this lane's queue before a request is refused. */
  maxWaitMs: number;
  /**
   * In-flight slots that only this lane and the lanes before it may take (default 0): however
   * many requests of later lanes arrive, this many are left.
   */
  reserved?: number;
}

export interface AdmissionLimits {
  /** Requests served at once; more wait in the queue of their lane. */
  maxInFlight: number;
  /** Requests that may wait in each lane; beyond, a request is refused at once. */
  maxQueued: number;
  /**
   * The lanes, the first served first. The last one takes what no other does: nothing is kept
   * for it beyond what the others leave.
   */
  lanes: readonly AdmissionLane[];
}

interface Waiter {
  admit: () => void;
  timer: NodeJS.Timeout;
}

/**
 * Admission control: at most `maxInFlight` requests are served at once and at most `maxQueued`
 * per lane wait (first come, first served) for at most their lane's wait. What is over the limits
 * is refused at once, so that overload becomes fast refusals the client retries later, not an
 * unbounded queue in which every request grows slow together.
 *
 * Lanes put work under way (a referral's next step, a case manager's update) before new work: a
 * waiting request goes in before those of later lanes, and each lane's `reserved` slots are left
 * to it and the lanes before it.
 */
export class AdmissionGate {
  private inFlight = 0;
  private readonly queues: Waiter[][];
  /** Slots lane i may fill: maxInFlight less what is kept for the lanes before it. */
  private readonly capacities: number[];
  refused = 0;

  constructor(private readonly limits: AdmissionLimits) {
    const { maxInFlight, maxQueued, lanes } = limits;
    let kept = 0;
    this.capacities = lanes.map((lane) => {
      const capacity = maxInFlight - kept;
      kept += lane.reserved ?? 0;
      return capacity;
    });
    const valid =
      maxInFlight >= 1 &&
      maxQueued >= 0 &&
      lanes.length >= 1 &&
      lanes.every((lane) => lane.maxWaitMs >= 0 && (lane.reserved ?? 0) >= 0) &&
      this.capacities[this.capacities.length - 1] >= 1;
    if (!valid)
      throw new Error(
        'admission limits: maxInFlight >= 1, maxQueued >= 0, one lane or more, waits >= 0, reserves >= 0 leaving the last lane a slot',
      );
    this.queues = lanes.map(() => []);
  }

  /** The lane of requests no other lane takes. */
  get lastLane(): number {
    return this.queues.length - 1;
  }

  get active(): number {
    return this.inFlight;
  }

  get waiting(): number {
    return this.queues.reduce((total, queue) => total + queue.length, 0);
  }

  /** Resolves true once admitted (call `leave()` when done), false when refused. */
  enter(lane = this.lastLane): Promise<boolean> {
    const index = Math.min(Math.max(0, lane), this.lastLane);
    const queue = this.queues[index];
    // Nobody overtakes a waiting request of its own lane or of a lane before it.
    const free =
      this.inFlight < this.capacities[index] &&
      this.queues.slice(0, index + 1).every((q) => q.length === 0);
    if (free) {
      this.inFlight += 1;
      return Promise.resolve(true);
    }
    if (queue.length >= this.limits.maxQueued) return Promise.resolve(this.refuse());
    return new Promise((resolve) => {
      const waiter: Waiter = {
        admit: () => {
          clearTimeout(waiter.timer);
          this.inFlight += 1;
          resolve(true);
        },
        timer: setTimeout(() => {
          queue.splice(queue.indexOf(waiter), 1);
          resolve(this.refuse());
        }, this.limits.lanes[index].maxWaitMs),
      };
      queue.push(waiter);
    });
  }

  /** One admitted request is done: the longest-waiting request of the first waiting lane goes in. */
  leave(): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    const index = this.queues.findIndex((queue) => queue.length > 0);
    // A later lane cannot overtake it, and has no more room than it (capacities only shrink).
    if (index >= 0 && this.inFlight < this.capacities[index]) this.queues[index].shift()?.admit();
  }

  private refuse(): false {
    this.refused += 1;
    return false;
  }
}
