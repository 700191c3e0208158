/**
 * Deadline arithmetic in a network's time zone. Business days are Monday to Friday except the
 * network's holidays (local dates, YYYY-MM-DD). Pure functions: the clock is always an argument.
 */
export type CalendarKind = 'business' | 'calendar';

export interface WorkCalendar {
  timeZone: string;
  /** Local dates, YYYY-MM-DD. */
  holidays: readonly string[];
}

export interface LocalDateTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** 0 = Sunday … 6 = Saturday */
  weekday: number;
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      weekday: 'short',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

export function isLocalDate(text: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!match) return false;
  const [year, month, day] = match.slice(1).map(Number);
  const date = new Date(Date.UTC(year, month - 1, day));
  return (
    date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day
  );
}

export function toLocal(instant: Date, timeZone: string): LocalDateTime {
  const parts: Record<string, string> = {};
  for (const part of formatterFor(timeZone).formatToParts(instant)) parts[part.type] = part.value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
    weekday: WEEKDAYS[parts.weekday],
  };
}

/** Milliseconds the zone is ahead of UTC at that instant (whole seconds). */
function offsetMs(instantMs: number, timeZone: string): number {
  const local = toLocal(new Date(instantMs), timeZone);
  const asUtc = Date.UTC(
    local.year,
    local.month - 1,
    local.day,
    local.hour,
    local.minute,
    local.second,
  );
  return asUtc - Math.floor(instantMs / 1000) * 1000;
}

/**
 * The instant of a local wall-clock time. In a spring-forward gap it lands after the gap; in a
 * fall-back overlap it takes the first occurrence.
 */
export function fromLocal(
  local: Omit<LocalDateTime, 'weekday'> & { millisecond?: number },
  timeZone: string,
): Date {
  const wall = Date.UTC(
    local.year,
    local.month - 1,
    local.day,
    local.hour,
    local.minute,
    local.second,
    local.millisecond ?? 0,
  );
  const first = wall - offsetMs(wall, timeZone);
  const second = wall - offsetMs(first, timeZone);
  if (first === second) return new Date(first);
  // Two candidates: prefer one that maps back to the wall time, the earlier if both do.
  const candidates = [first, second].filter((t) => offsetMs(t, timeZone) + t === wall);
  return new Date(candidates.length > 0 ? Math.min(...candidates) : Math.max(first, second));
}

export const localDateKey = (local: Pick<LocalDateTime, 'year' | 'month' | 'day'>): string =>
  `${local.year}-${String(local.month).padStart(2, '0')}-${String(local.day).padStart(2, '0')}`;

/** The calendar date n days after a local date (no time zone involved). */
function shiftDate<T extends Pick<LocalDateTime, 'year' | 'month' | 'day'>>(
  date: T,
  days: number,
): T {
  const shifted = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return {
    ...date,
    year: shifted.getUTCFullYear(),
    month: shifted.getUTCMonth() + 1,
    day: shifted.getUTCDate(),
  };
}

const weekdayOf = (date: Pick<LocalDateTime, 'year' | 'month' | 'day'>): number =>
  new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay();

export function isBusinessDay(
  date: Pick<LocalDateTime, 'year' | 'month' | 'day'>,
  calendar: WorkCalendar,
): boolean {
  const weekday = weekdayOf(date);
  return weekday !== 0 && weekday !== 6 && !calendar.holidays.includes(localDateKey(date));
}

const startOfDay = (date: Pick<LocalDateTime, 'year' | 'month' | 'day'>, timeZone: string): Date =>
  fromLocal({ ...date, hour: 0, minute: 0, second: 0 }, timeZone);

/**
 * The instant `seconds` after `start`. Calendar time is elapsed time. Business time counts whole
 * days as business days at the same local wall time (Friday 15:00 + 2 business days = Tuesday
 * 15:00), starting from the next business day's midnight when `start` is not on one; the rest
 * of a day counts only hours that fall on business days.
 */
export function addDuration(
  start: Date,
  seconds: number,
  kind: CalendarKind,
  calendar: WorkCalendar,
): Date {
  if (kind === 'calendar') return new Date(start.getTime() + seconds * 1000);
  const { timeZone } = calendar;
  let local = toLocal(start, timeZone);
  let at = start;
  let guard = 0;
  if (!isBusinessDay(local, calendar)) {
    let date = shiftDate(local, 1);
    while (!isBusinessDay(date, calendar)) {
      date = shiftDate(date, 1);
      if (++guard > 3660) throw new Error('no business day within ten years');
    }
    at = startOfDay(date, timeZone);
    local = toLocal(at, timeZone);
  }
  const wholeDays = Math.floor(seconds / 86_400);
  let rest = (seconds - wholeDays * 86_400) * 1000;
  let date: Pick<LocalDateTime, 'year' | 'month' | 'day'> = local;
  for (let counted = 0; counted < wholeDays;) {
    date = shiftDate(date, 1);
    if (isBusinessDay(date, calendar)) counted++;
    if (++guard > 36_600) throw new Error('no business day within a hundred years');
  }
  if (wholeDays > 0) {
    at = fromLocal(
      {
        ...date,
        hour: local.hour,
        minute: local.minute,
        second: local.second,
        millisecond: at.getTime() % 1000,
      },
      timeZone,
    );
  }
  // The remainder: only time on business days counts.
  while (rest > 0) {
    const today = toLocal(at, timeZone);
    const nextMidnight = startOfDay(shiftDate(today, 1), timeZone);
    if (isBusinessDay(today, calendar)) {
      const available = nextMidnight.getTime() - at.getTime();
      if (rest <= available) return new Date(at.getTime() + rest);
      rest -= available;
    }
    at = nextMidnight;
    if (++guard > 36_600) throw new Error('no business day within a hundred years');
  }
  return at;
}
