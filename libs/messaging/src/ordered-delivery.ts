import { backoffMs, type RetryPolicy } from './retry-policy';

/** A queued delivery: how often it was tried, and when it may be tried again. */
export interface QueuedDelivery {
  attempts: number;
  nextAttemptAt: string;
}

export interface OrderedDeliveryHandlers<T extends QueuedDelivery> {
  retry: RetryPolicy;
  /** Before an item: deliver it, skip it (nothing to send any more), or stop here. */
  before?: (item: T) => Promise<'deliver' | 'skip' | 'stop'>;
  /**
   * Whether a failed attempt parks the item (default: once `retry.maxAttempts` is reached); e.g.
   * an unreachable receiver waited out longer than a refusing one.
   */
  parks?: (item: T, error: unknown, attempts: number) => boolean;
  /** Sends the item and records it delivered; throws when it could not be delivered. */
  deliver: (item: T) => Promise<void>;
  /**
   * Records a failed attempt: `parked` after `retry.maxAttempts` (the later items go on without
   * it), otherwise due again after `delayMs` (exponential backoff, full jitter).
   */
  failed: (
    item: T,
    error: unknown,
    outcome: { attempts: number; parked: boolean; delayMs: number },
  ) => Promise<void>;
  /**
   * Told, when the key stops at an item to be tried later (not yet due, or a failure that will
   * be retried), in how many ms that is: a worker that is woken for new items sleeps until then.
   */
  waits?: (inMs: number) => void;
}

/**
 * Delivers one key's queued items in order (the caller holds the key's lock): stops at the first
 * item not yet due, and at the first failure that will be retried, so that a later item never
 * overtakes an earlier one; a parked item no longer holds the others back. Returns what was
 * delivered. The ehr-connector's push queue and the FHIR API's subscription deliveries share it.
 */
export async function deliverInOrder<T extends QueuedDelivery>(
  items: T[],
  handlers: OrderedDeliveryHandlers<T>,
  now: () => number = Date.now,
): Promise<T[]> {
  const delivered: T[] = [];
  for (const item of items) {
    const dueInMs = Date.parse(item.nextAttemptAt) - now();
    if (dueInMs > 0) {
      handlers.waits?.(dueInMs);
      break;
    }
    const next = (await handlers.before?.(item)) ?? 'deliver';
    if (next === 'stop') break;
    if (next === 'skip') continue;
    try {
      await handlers.deliver(item);
      delivered.push(item);
    } catch (error) {
      const attempts = item.attempts + 1;
      const parked =
        handlers.parks?.(item, error, attempts) ?? attempts >= handlers.retry.maxAttempts;
      const delayMs = parked ? 0 : backoffMs(handlers.retry, attempts);
      await handlers.failed(item, error, { attempts, parked, delayMs });
      if (!parked) {
        handlers.waits?.(delayMs);
        break;
      }
    }
  }
  return delivered;
}

/** Which keys have a due delivery, and when the next one falls due. */
export interface DueKeys {
  /** Up to the limit, the longest due first. */
  keys: string[];
  /** In how many ms the next key falls due (0: more are due than the limit); undefined: none queued. */
  nextDueInMs?: number;
}

/**
 * The keys whose first pending delivery is due (a key's later ones wait behind it), and when the
 * first of the others falls due, in one statement: a worker that is woken by NOTIFY for new work
 * sleeps until then instead of polling for retries. `table` holds `state` and `next_attempt_at`
 * per delivery; `order` orders a key's deliveries.
 */
export async function dueKeys(
  db: { query(sql: string, parameters?: unknown[]): Promise<unknown> },
  queue: { table: string; key: string; order: string },
  limit: number,
): Promise<DueKeys> {
  const rows = (await db.query(
    `SELECT ${queue.key} AS key, next_attempt_at <= now() AS due,
       GREATEST(0, extract(epoch FROM next_attempt_at - now()) * 1000)::float8 AS in_ms
     FROM (SELECT DISTINCT ON (${queue.key}) ${queue.key}, next_attempt_at FROM ${queue.table}
           WHERE state = 'pending' ORDER BY ${queue.key}, ${queue.order}) first
     ORDER BY next_attempt_at LIMIT $1`,
    [limit + 1],
  )) as Array<{ key: string; due: boolean; in_ms: number }>;
  const due = rows.filter((row) => row.due);
  const later = rows.find((row) => !row.due);
  return {
    keys: due.slice(0, limit).map((row) => row.key),
    nextDueInMs: due.length > limit ? 0 : later?.in_ms,
  };
}
