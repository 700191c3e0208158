/**
 * Broker answers that mean "not yet", not "no": a topic just created whose leader is still being
 * elected, or metadata a broker has not caught up with (a fresh broker, two services creating the
 * same topics at once). kafkajs does not retry all of them on every admin call.
 */
const SETTLING = new Set([
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
  'NOT_LEADER_OR_FOLLOWER',
  'UNKNOWN_TOPIC_OR_PARTITION',
  'NOT_CONTROLLER',
  'REQUEST_TIMED_OUT',
]);

/** Whether a kafkajs error (or the one it wraps after its own retries) is a broker still settling. */
export function isBrokerSettling(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 4; depth++) {
    const { type, originalError, cause } = current as {
      type?: unknown;
      originalError?: unknown;
      cause?: unknown;
    };
    if (typeof type === 'string' && SETTLING.has(type)) return true;
    current = originalError ?? cause;
  }
  return false;
}

/** Runs an admin call again while the broker is settling: up to `attempts`, backing off. */
export async function whenBrokerSettled<T>(
  call: () => Promise<T>,
  options: { attempts?: number; delayMs?: number } = {},
): Promise<T> {
  const attempts = options.attempts ?? 20;
  const delayMs = options.delayMs ?? 250;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= attempts || !isBrokerSettling(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, delayMs * Math.min(attempt, 8)));
    }
  }
}
