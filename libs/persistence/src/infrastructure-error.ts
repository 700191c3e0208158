// The database is down, restarting, unreachable or out of connections, or a socket failed; or
// the server ended a session left idle in a transaction (its client was cut off).
const UNAVAILABLE_PG_CODES = new Set(['57P01', '57P02', '57P03', '53300', '25P03']);
// Serialization failures and deadlocks: the next attempt will likely succeed.
const RETRYABLE_PG_CODES = new Set(['40001', '40P01']);
const UNAVAILABLE_SOCKET =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Connection terminated|timeout exceeded when trying to connect|Query read timeout/;

/** The error's code as pg or TypeORM carries it: a SQLSTATE, or a socket error's name. */
export const sqlStateOf = (error: unknown): string | undefined =>
  (error as { code?: string })?.code ??
  (error as { driverError?: { code?: string } })?.driverError?.code;

/** The database (or the socket to it) is unavailable: a request meeting it gets 503, not 500. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const code = sqlStateOf(error);
  if (code && (UNAVAILABLE_PG_CODES.has(code) || code.startsWith('08'))) return true;
  return UNAVAILABLE_SOCKET.test(String((error as Error)?.message ?? ''));
}

/** Worth retrying, never a reason to dead-letter: unavailability, serialization failures, deadlocks. */
export function isInfrastructureError(error: unknown): boolean {
  const code = sqlStateOf(error);
  return (code !== undefined && RETRYABLE_PG_CODES.has(code)) || isDatabaseUnavailable(error);
}
