/**
 * What of an error may reach a log line. A database driver's message can quote the offending
 * value (`invalid input syntax for type date: "1980-13-45"`) and TypeORM's QueryFailedError
 * carries the query's parameters (the resource being written): of those only the SQLSTATE and
 * the names of the constraint, table and column are logged. Other errors keep name and message.
 */
export function safeErrorText(error: unknown): string {
  if (!(error instanceof Error)) return `non-error thrown (${typeof error})`;
  if (isDatabaseError(error)) {
    const e = (error as { driverError?: object }).driverError ?? error;
    const { code, constraint, table, column } = e as Record<string, unknown>;
    const names = [constraint, table, column].filter((n) => typeof n === 'string').join(', ');
    return `database error ${typeof code === 'string' ? code : 'unknown'}${names ? ` (${names})` : ''}`;
  }
  return `${error.name}: ${error.message}`;
}

/** The stack's frames without its first line (the message, which `safeErrorText` replaces). */
export function safeErrorStack(error: unknown): string {
  const text = safeErrorText(error);
  if (!(error instanceof Error) || !error.stack) return text;
  const frames = error.stack
    .split('\n')
    .filter((line) => /^\s+at /.test(line))
    .join('\n');
  return frames ? `${text}\n${frames}` : text;
}

function isDatabaseError(error: Error): boolean {
  if (error.name === 'QueryFailedError' || 'driverError' in error || 'parameters' in error)
    return true;
  // pg's DatabaseError: a five-character SQLSTATE plus the server's severity.
  const { code, severity } = error as { code?: unknown; severity?: unknown };
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && severity !== undefined;
}
