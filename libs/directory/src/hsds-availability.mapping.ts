// HSDS schedules and capacities → the service's opening hours and capacity.

import type { Capacity, CapacityStatus, ScheduleEntry, Weekday } from './directory.model';
import { type HsdsReader, isObject, type Json } from './hsds.reader';

const WEEKDAY_BY_RRULE: Readonly<Record<string, Weekday>> = {
  MO: 'mon',
  TU: 'tue',
  WE: 'wed',
  TH: 'thu',
  FR: 'fri',
  SA: 'sat',
  SU: 'sun',
};

const TIME = /^([01]\d|2[0-3]):([0-5]\d)(?::[0-5]\d(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?$/;

export function mapSchedule(
  r: HsdsReader,
  raw: Json,
  path: string,
  record: string,
): ScheduleEntry | undefined {
  const freq = r.str(raw, 'freq', path, record)?.toUpperCase();
  const byday = r.str(raw, 'byday', path, record);
  const opens = r.str(raw, 'opens_at', path, record);
  const closes = r.str(raw, 'closes_at', path, record);
  const description = r.str(raw, 'description', path, record);
  if (freq !== undefined && freq !== 'WEEKLY') {
    r.warn(`${path}.freq`, record, `only WEEKLY schedules are used, got "${freq}": skipped`);
    return undefined;
  }
  if (!byday || !opens || !closes) {
    r.warn(path, record, 'schedule without byday, opens_at and closes_at: skipped');
    return undefined;
  }
  const days: Weekday[] = [];
  for (const token of byday.split(',').map((t) => t.trim().toUpperCase())) {
    const day = WEEKDAY_BY_RRULE[token];
    if (!day) {
      r.error(`${path}.byday`, record, `"${token}" is not a weekday (MO, TU, WE, TH, FR, SA, SU)`);
      return undefined;
    }
    if (!days.includes(day)) days.push(day);
  }
  const opensAt = readTime(r, opens, `${path}.opens_at`, record);
  const closesAt = readTime(r, closes, `${path}.closes_at`, record);
  if (!opensAt || !closesAt) return undefined;
  return description ? { days, opensAt, closesAt, description } : { days, opensAt, closesAt };
}

function readTime(r: HsdsReader, value: string, path: string, record: string): string | undefined {
  const m = TIME.exec(value);
  if (!m) {
    r.error(path, record, `"${value}" is not a time (HH:MM)`);
    return undefined;
  }
  return `${m[1]}:${m[2]}`;
}

export function mapCapacity(
  r: HsdsReader,
  raw: Json,
  path: string,
  record: string,
  explicit: CapacityStatus | undefined,
): Capacity {
  const entries = r.objects(raw, 'capacities', path, record);
  if (entries.length === 0) return { status: explicit ?? 'available' };
  let available = 0;
  let maximum: number | undefined;
  let unit: string | undefined;
  let updatedAt: string | undefined;
  let notes: string | undefined;
  for (const [c, p] of entries) {
    const a = r.num(c, 'available', p, record, true);
    if (a !== undefined) {
      if (a < 0) r.error(`${p}.available`, record, `must not be negative, got ${a}`);
      available += a;
    }
    const m = r.num(c, 'maximum', p, record);
    if (m !== undefined) maximum = (maximum ?? 0) + m;
    if (isObject(c.unit)) unit ??= r.str(c.unit, 'name', `${p}.unit`, record, true);
    else r.error(`${p}.unit`, record, 'is required (an object with a name)');
    const updated = r.str(c, 'updated', p, record, true);
    if (updated) {
      if (Number.isNaN(Date.parse(updated)))
        r.error(`${p}.updated`, record, `"${updated}" is not a date-time`);
      else if (!updatedAt || Date.parse(updated) > Date.parse(updatedAt)) updatedAt = updated;
    }
    notes ??= r.str(c, 'description', p, record);
  }
  const capacity: Capacity = {
    status: explicit ?? (available > 0 ? 'available' : 'no-capacity'),
    available,
  };
  if (maximum !== undefined) capacity.maximum = maximum;
  if (unit !== undefined) capacity.unit = unit;
  if (updatedAt !== undefined) capacity.updatedAt = updatedAt;
  if (notes !== undefined) capacity.notes = notes;
  return capacity;
}
