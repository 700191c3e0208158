/**
 * Policy durations: ISO-8601 durations made of weeks, days, hours, minutes and seconds (years and
 * months have no fixed length, so they are refused), or a whole number of seconds.
 */
const ISO_DURATION =
  /^P(?!$)(?:(\d+)W)?(?:(\d+)D)?(?:T(?!$)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;
const HAS_YEARS_OR_MONTHS = /^P(?:\d+Y|\d+M|.*\d+Y|[^T]*\d+M)/;

export type DurationSpec = string | number;

export class DurationError extends Error {
  override name = 'DurationError';
}

/** Seconds in a duration; throws DurationError saying what is wrong. */
export function parseDuration(spec: DurationSpec): number {
  if (typeof spec === 'number') {
    if (!Number.isInteger(spec) || spec < 0) {
      throw new DurationError('must be a whole number of seconds, 0 or more');
    }
    return spec;
  }
  const text = spec.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const match = ISO_DURATION.exec(text);
  if (!match) {
    if (HAS_YEARS_OR_MONTHS.test(text)) {
      throw new DurationError('years and months have no fixed length: use weeks or days');
    }
    throw new DurationError(
      'must be an ISO-8601 duration such as P2D, PT24H, P1W, PT90S, or a number of seconds',
    );
  }
  const [, weeks, days, hours, minutes, seconds] = match.map((part) => Number(part ?? 0));
  return Math.round(weeks * 7 * 86_400 + days * 86_400 + hours * 3_600 + minutes * 60 + seconds);
}

export function isDuration(spec: unknown): spec is DurationSpec {
  if (typeof spec !== 'string' && typeof spec !== 'number') return false;
  try {
    parseDuration(spec);
    return true;
  } catch {
    return false;
  }
}

/** The shortest ISO-8601 spelling of a number of seconds, for answers and event details. */
export function formatDuration(totalSeconds: number): string {
  if (totalSeconds === 0) return 'PT0S';
  let rest = totalSeconds;
  const days = Math.floor(rest / 86_400);
  rest -= days * 86_400;
  const hours = Math.floor(rest / 3_600);
  rest -= hours * 3_600;
  const minutes = Math.floor(rest / 60);
  const seconds = rest - minutes * 60;
  const date = days ? `${days}D` : '';
  const time =
    (hours ? `${hours}H` : '') + (minutes ? `${minutes}M` : '') + (seconds ? `${seconds}S` : '');
  return `P${date}${time ? `T${time}` : ''}`;
}
