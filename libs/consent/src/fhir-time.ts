/**
 * FHIR date and dateTime values as instants. A value stands for the whole interval of its
 * precision: `2025-06` is all of June 2025. Values without a time zone (dates, partial dates) are
 * read as UTC; FHIR requires a zone on any dateTime that has a time, so only dates are affected.
 */

const FHIR_DATE_TIME =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

export interface InstantBounds {
  /** The first millisecond the value covers. */
  start: number;
  /** The first millisecond after it (exclusive). */
  end: number;
}

/** The interval a FHIR date/dateTime stands for, or undefined when the value is not one. */
export function fhirInstantBounds(value: unknown): InstantBounds | undefined {
  if (typeof value !== 'string') return undefined;
  const match = FHIR_DATE_TIME.exec(value);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, fraction, zone] = match;
  if (h !== undefined && zone === undefined) return undefined;
  const year = Number(y);
  const month = mo === undefined ? 0 : Number(mo) - 1;
  const day = d === undefined ? 1 : Number(d);
  const hour = h === undefined ? 0 : Number(h);
  const minute = mi === undefined ? 0 : Number(mi);
  const second = s === undefined ? 0 : Number(s);
  const millis = fraction === undefined ? 0 : Number(fraction.slice(0, 3).padEnd(3, '0'));
  if (month > 11 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) {
    return undefined;
  }
  const offsetMs = zoneOffsetMs(zone);
  const start = Date.UTC(year, month, day, hour, minute, second, millis) - offsetMs;
  const check = new Date(start + offsetMs);
  if (check.getUTCDate() !== day || check.getUTCMonth() !== month) return undefined; // 2025-02-30
  let end: number;
  if (mo === undefined) end = Date.UTC(year + 1, 0, 1);
  else if (d === undefined) end = Date.UTC(year, month + 1, 1);
  else if (h === undefined) end = Date.UTC(year, month, day + 1);
  else if (s === undefined) end = start + 60_000;
  else if (fraction === undefined) end = start + 1000;
  else end = start + 1;
  return { start, end };
}

function zoneOffsetMs(zone: string | undefined): number {
  if (zone === undefined || zone === 'Z') return 0;
  const sign = zone.startsWith('-') ? -1 : 1;
  const [hours, minutes] = zone.slice(1).split(':').map(Number);
  return sign * (hours * 60 + minutes) * 60_000;
}
