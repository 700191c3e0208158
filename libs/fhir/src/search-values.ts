/**
 * Values shared by the search index (what is stored) and search requests (what is asked): date
 * ranges, numbers with their implicit precision, normalised strings, and the comparison rules
 * that the SQL of the app must mirror (they are executable here, in `search-match.ts`).
 */

export const SEARCH_PREFIXES = ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb'] as const;
export type SearchPrefix = (typeof SEARCH_PREFIXES)[number];

/** A half-open instant range [start, end) as ISO-8601 UTC strings; undefined = unbounded. */
export interface DateRange {
  start?: string;
  end?: string;
}

const DATE_PATTERN =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

function utc(
  year: number,
  month: number,
  day: number,
  hour = 0,
  minute = 0,
  second = 0,
  ms = 0,
): Date {
  const d = new Date(0);
  d.setUTCFullYear(year, month, day);
  d.setUTCHours(hour, minute, second, ms);
  return d;
}

function daysInMonth(year: number, month: number): number {
  return utc(year, month + 1, 0).getUTCDate();
}

/**
 * The instant range covered by a FHIR date, dateTime or instant (or a search date value):
 * `2020` → [2020-01-01T00:00:00.000Z, 2021-01-01T00:00:00.000Z), `2020-09-11T21:56:54.671Z` →
 * [.671, .672). A time without a timezone, and any date without a time, is taken as UTC.
 * Invalid input → undefined.
 */
export function dateToRange(value: string): DateRange | undefined {
  const m = DATE_PATTERN.exec(value);
  if (!m) {
    return undefined;
  }
  const year = Number(m[1]);
  const month = m[2] === undefined ? undefined : Number(m[2]) - 1;
  const day = m[3] === undefined ? undefined : Number(m[3]);
  const hour = m[4] === undefined ? undefined : Number(m[4]);
  const minute = m[5] === undefined ? undefined : Number(m[5]);
  const second = m[6] === undefined ? undefined : Number(m[6]);
  const fraction = m[7];
  const zone = m[8];

  if (year < 1) {
    return undefined;
  }
  if (month !== undefined && (month < 0 || month > 11)) {
    return undefined;
  }
  if (month !== undefined && day !== undefined && (day < 1 || day > daysInMonth(year, month))) {
    return undefined;
  }
  if (hour !== undefined && (hour > 23 || (minute as number) > 59)) {
    return undefined;
  }
  if (second !== undefined && second > 59) {
    return undefined;
  }

  let offsetMinutes = 0;
  if (zone && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const zh = Number(zone.slice(1, 3));
    const zm = Number(zone.slice(4, 6));
    if (zh > 14 || zm > 59) {
      return undefined;
    }
    offsetMinutes = sign * (zh * 60 + zm);
  }

  let start: Date;
  let end: Date;
  if (month === undefined) {
    start = utc(year, 0, 1);
    end = utc(year + 1, 0, 1);
  } else if (day === undefined) {
    start = utc(year, month, 1);
    end = utc(year, month + 1, 1);
  } else if (hour === undefined) {
    start = utc(year, month, day);
    end = utc(year, month, day + 1);
  } else {
    const digits = fraction ? fraction.slice(1) : '';
    const ms = digits ? Number(digits.slice(0, 3).padEnd(3, '0')) : 0;
    start = utc(year, month, day, hour, minute as number, second ?? 0, ms);
    start = new Date(start.getTime() - offsetMinutes * 60_000);
    let step: number;
    if (second === undefined) {
      step = 60_000;
    } else if (!digits) {
      step = 1000;
    } else {
      step = digits.length >= 3 ? 1 : 10 ** (3 - digits.length);
    }
    end = new Date(start.getTime() + step);
  }
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime())) {
    return undefined;
  }
  return { start: start.toISOString(), end: end.toISOString() };
}

/** A FHIR Period as a range: start of `start` .. end of `end`; a missing side is unbounded. */
export function periodToRange(period: { start?: string; end?: string }): DateRange | undefined {
  const start = period.start === undefined ? undefined : dateToRange(period.start);
  const end = period.end === undefined ? undefined : dateToRange(period.end);
  if ((period.start !== undefined && !start) || (period.end !== undefined && !end)) {
    return undefined;
  }
  if (!start && !end) {
    return undefined;
  }
  return { start: start?.start, end: end?.end };
}

const DECIMAL = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;

export interface NumberWithPrecision {
  value: number;
  /** Implicit precision range [low, high) of the literal: `100` → [99.5, 100.5), `1.0` → [0.95, 1.05). */
  low: number;
  high: number;
}

/** Parses a FHIR decimal literal with its implicit precision; undefined when not a number. */
export function parseDecimal(text: string): NumberWithPrecision | undefined {
  const m = DECIMAL.exec(text);
  if (!m) {
    return undefined;
  }
  const value = Number(text);
  if (!Number.isFinite(value)) {
    return undefined;
  }
  const decimals = m[2] ? m[2].length - 1 : 0;
  const exponent = m[3] ? Number(m[3].slice(1)) : 0;
  const half = 0.5 * 10 ** (exponent - decimals);
  return { value, low: value - half, high: value + half };
}

/**
 * Strings are matched case- and accent-insensitively by default (FHIR string search): the
 * index stores this form in `value_string_normalized` and requests carry it too.
 */
export function normalizeSearchString(value: string): string {
  return value
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * Does an indexed date range match a search value? `row` may be unbounded on either side (an
 * open Period). Comparisons are on ISO-8601 UTC strings (they sort as instants).
 *
 * - eq: the row range lies within the search range; ne: it does not;
 * - gt: the row extends past the end of the search range (row.end > search.end);
 * - lt: the row starts before the search range (row.start < search.start);
 * - ge: the row has some instant at or after the search start (row.end > search.start);
 * - le: the row has some instant before the search end (row.start < search.end);
 * - sa: the row starts at or after the end of the search range (row.start >= search.end);
 * - eb: the row ends at or before the start of the search range (row.end <= search.start).
 */
export function dateRangeMatches(
  prefix: SearchPrefix,
  search: Required<DateRange>,
  row: DateRange,
): boolean {
  const rowStartsAtOrAfter = (instant: string): boolean =>
    row.start !== undefined && row.start >= instant;
  const rowEndsAtOrBefore = (instant: string): boolean =>
    row.end !== undefined && row.end <= instant;
  const rowStartsBefore = (instant: string): boolean =>
    row.start === undefined || row.start < instant;
  switch (prefix) {
    case 'eq':
      return rowStartsAtOrAfter(search.start) && rowEndsAtOrBefore(search.end);
    case 'ne':
      return !(rowStartsAtOrAfter(search.start) && rowEndsAtOrBefore(search.end));
    case 'gt':
      return !rowEndsAtOrBefore(search.end);
    case 'lt':
      return rowStartsBefore(search.start);
    case 'ge':
      return !rowEndsAtOrBefore(search.start);
    case 'le':
      return rowStartsBefore(search.end);
    case 'sa':
      return rowStartsAtOrAfter(search.end);
    case 'eb':
      return rowEndsAtOrBefore(search.start);
  }
}

/**
 * Does an indexed number match a search value? `eq`/`ne` use the literal's implicit precision
 * ([low, high)); the others compare with the exact value (`sa` = gt, `eb` = lt for numbers).
 */
export function numberMatches(
  prefix: SearchPrefix,
  search: NumberWithPrecision,
  value: number,
): boolean {
  switch (prefix) {
    case 'eq':
      return value >= search.low && value < search.high;
    case 'ne':
      return !(value >= search.low && value < search.high);
    case 'gt':
    case 'sa':
      return value > search.value;
    case 'lt':
    case 'eb':
      return value < search.value;
    case 'ge':
      return value >= search.value;
    case 'le':
      return value <= search.value;
  }
}
