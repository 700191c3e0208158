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
    if (Date.parse(item.nextAttemptAt) > now()) break;
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
      await handlers.failed(item, error, {
        attempts,
        parked,
        delayMs: parked ? 0 : backoffMs(handlers.retry, attempts),
      });
      if (!parked) break;
    }
  }
  return delivered;
}
