/** What a breakdown can group by, and what a query can filter on. */
export const EQUITY_DIMENSIONS = [
  'race',
  'ethnicity',
  'language',
  'zip',
  'payer',
  'ageBand',
  'sex',
] as const;
export type EquityDimension = (typeof EQUITY_DIMENSIONS)[number];

export const PERIOD_DIMENSIONS = ['day', 'week', 'month'] as const;
export type PeriodDimension = (typeof PERIOD_DIMENSIONS)[number];

export const BREAKDOWN_DIMENSIONS = [
  'cbo',
  'category',
  'requester',
  ...PERIOD_DIMENSIONS,
  ...EQUITY_DIMENSIONS,
] as const;
export type BreakdownDimension = (typeof BREAKDOWN_DIMENSIONS)[number];

/** The group of a referral with no known value (no Patient change seen yet, no extension…). */
export const UNKNOWN = 'unknown';

/** Day, ISO week (its Monday) and month of an instant, in UTC. */
export function periodOf(at: Date, period: PeriodDimension): string {
  const day = at.toISOString().slice(0, 10);
  if (period === 'day') return day;
  if (period === 'month') return day.slice(0, 7);
  const monday = new Date(`${day}T00:00:00Z`);
  monday.setUTCDate(monday.getUTCDate() - ((monday.getUTCDay() + 6) % 7));
  return monday.toISOString().slice(0, 10);
}
