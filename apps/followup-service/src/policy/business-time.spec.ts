import {
  addDuration,
  fromLocal,
  isBusinessDay,
  isLocalDate,
  isValidTimeZone,
  toLocal,
} from './business-time';

const utc = { timeZone: 'UTC', holidays: [] };
const newYork = { timeZone: 'America/New_York', holidays: ['2026-11-26'] };
const day = 86_400;
const iso = (date: Date) => date.toISOString();

describe('business days', () => {
  it('skips Saturday, Sunday and the configured holidays', () => {
    expect(isBusinessDay({ year: 2026, month: 11, day: 20 }, utc)).toBe(true); // Friday
    expect(isBusinessDay({ year: 2026, month: 11, day: 21 }, utc)).toBe(false); // Saturday
    expect(isBusinessDay({ year: 2026, month: 11, day: 22 }, utc)).toBe(false); // Sunday
    expect(isBusinessDay({ year: 2026, month: 11, day: 26 }, newYork)).toBe(false); // holiday
    expect(isBusinessDay({ year: 2026, month: 11, day: 26 }, utc)).toBe(true);
  });

  it('adds business days at the same wall time, Friday afternoon to Tuesday afternoon', () => {
    const friday = new Date('2026-11-20T15:00:00Z');
    expect(iso(addDuration(friday, 2 * day, 'business', utc))).toBe('2026-11-24T15:00:00.000Z');
  });

  it('starts counting on the next business morning when routed on a weekend', () => {
    const saturday = new Date('2026-11-21T10:30:00Z');
    expect(iso(addDuration(saturday, 2 * day, 'business', utc))).toBe('2026-11-25T00:00:00.000Z');
    expect(iso(addDuration(saturday, 3600, 'business', utc))).toBe('2026-11-23T01:00:00.000Z');
  });

  it('skips a holiday in the network time zone', () => {
    // Wednesday 2026-11-25 10:00 in New York (UTC-5); Thursday the 26th is a holiday.
    const wednesday = new Date('2026-11-25T15:00:00Z');
    expect(iso(addDuration(wednesday, 2 * day, 'business', newYork))).toBe(
      '2026-11-30T15:00:00.000Z', // Monday 10:00 in New York
    );
  });

  it('judges the weekend by the network time zone, not by UTC', () => {
    // Friday 22:00 in New York is already Saturday in UTC.
    const fridayNight = new Date('2026-11-21T03:00:00Z');
    expect(toLocal(fridayNight, 'America/New_York').weekday).toBe(5);
    expect(iso(addDuration(fridayNight, 1 * day, 'business', newYork))).toBe(
      '2026-11-24T03:00:00.000Z', // Monday 22:00 in New York
    );
    expect(iso(addDuration(fridayNight, 1 * day, 'business', utc))).toBe(
      '2026-11-24T00:00:00.000Z', // UTC: Saturday, so from Monday 00:00 UTC
    );
  });

  it('keeps the local wall time across a daylight-saving change', () => {
    // Friday 2026-10-30 09:00 EDT (UTC-4) + 2 business days = Tuesday 09:00 EST (UTC-5).
    const friday = new Date('2026-10-30T13:00:00Z');
    expect(iso(addDuration(friday, 2 * day, 'business', newYork))).toBe('2026-11-03T14:00:00.000Z');
  });

  it('counts a sub-day remainder only on business days', () => {
    const fridayEvening = new Date('2026-11-20T20:00:00Z');
    expect(iso(addDuration(fridayEvening, 6 * 3600, 'business', utc))).toBe(
      '2026-11-23T02:00:00.000Z',
    );
    expect(iso(addDuration(fridayEvening, day + 3600, 'business', utc))).toBe(
      '2026-11-23T21:00:00.000Z',
    );
  });

  it('treats calendar durations as elapsed time, and seconds stay seconds', () => {
    const saturday = new Date('2026-11-21T10:30:00Z');
    expect(iso(addDuration(saturday, 2, 'calendar', utc))).toBe('2026-11-21T10:30:02.000Z');
    expect(iso(addDuration(saturday, 30 * day, 'calendar', newYork))).toBe(
      '2026-12-21T10:30:00.000Z',
    );
  });
});

describe('time zone helpers', () => {
  it('converts a local wall time to an instant and back', () => {
    const instant = fromLocal(
      { year: 2026, month: 7, day: 1, hour: 9, minute: 30, second: 0 },
      'America/Los_Angeles',
    );
    expect(iso(instant)).toBe('2026-07-01T16:30:00.000Z');
    expect(toLocal(instant, 'America/Los_Angeles')).toMatchObject({ hour: 9, minute: 30 });
  });

  it('moves a wall time in the spring-forward gap past the gap', () => {
    // 2026-03-08 02:30 does not exist in New York.
    const instant = fromLocal(
      { year: 2026, month: 3, day: 8, hour: 2, minute: 30, second: 0 },
      'America/New_York',
    );
    expect(toLocal(instant, 'America/New_York')).toMatchObject({ hour: 3, minute: 30 });
  });

  it('validates time zones and local dates', () => {
    expect(isValidTimeZone('Europe/Paris')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus')).toBe(false);
    expect(isLocalDate('2026-12-25')).toBe(true);
    expect(isLocalDate('2026-02-30')).toBe(false);
    expect(isLocalDate('25/12/2026')).toBe(false);
  });
});
