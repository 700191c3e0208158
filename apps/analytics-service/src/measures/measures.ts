import { NETWORK_REASONS, type ReasonCode } from '../ingest/reason-codes';
import { benjaminiHochberg } from '../stats/multiple-testing';
import {
  newcombeInterval,
  newcombePValue,
  wilsonInterval,
  type Interval,
} from '../stats/proportions';
import { suppressCells, MIN_CELL_SIZE, type SuppressionReason } from '../stats/suppression';
import { aggregateGroups, aggregateWholeStore, groupRows, type GroupAggregate } from './aggregate';
import { PERIOD_DIMENSIONS, type BreakdownDimension, type EquityDimension } from './dimensions';
import { FactColumns, type FactDimension } from './fact-columns';

/** Every row of a large store (selected rows are in row order): the whole-store path applies. */
const coversStore = (store: FactColumns, rows: Uint32Array) =>
  rows.length === store.size && rows.length >= 50_000;

/** One referral of the cohort, with its dimensions (codes and bands only). */
export interface ReferralFact {
  referralId: string;
  requestedAt: Date;
  routedAt: Date | null;
  acceptedAt: Date | null;
  completedAt: Date | null;
  terminalState: string | null;
  terminalAt: Date | null;
  currentState: string;
  attempts: number;
  reroutes: number;
  awaitedConsent: boolean;
  breaches: number;
  cbo: string | null;
  category: string | null;
  requester: string | null;
  race: string | null;
  ethnicity: string | null;
  language: string | null;
  zip: string | null;
  payer: string | null;
  ageBand: string | null;
  sex: string | null;
}

/** One ended attempt of a cohort referral, with its coded reason. */
export interface Rejection {
  referralId: string;
  attempt: number | null;
  reasonCode: string | null;
}

const round = (value: number | null, digits = 4) =>
  value === null ? null : Math.round(value * 10 ** digits) / 10 ** digits;

const rate = (x: number, n: number) => (n === 0 ? null : round(x / n, 6));
const interval = (i: Interval | null) =>
  i ? { lower: round(i.lower, 6)!, upper: round(i.upper, 6)! } : null;

export interface Summary {
  suppressed: boolean;
  referrals: number | null;
  routed?: number;
  accepted?: number;
  closed?: number;
  closureRate?: number | null;
  closureRateCi95?: { lower: number; upper: number } | null;
  awaitingConsent?: number;
  everAwaitedConsent?: number;
  reroutes?: number;
  referralsRerouted?: number;
  deadlineBreaches?: number;
  referralsBreached?: number;
  routingAttempts?: number;
  rejections?: RejectionRow[];
  timeToAccept?: GroupAggregate['timeToAccept'];
  timeToClose?: GroupAggregate['timeToClose'];
}

/** The aggregates of a whole cohort (one group) and of a cohort grouped by a dimension. */
export function aggregateAll(store: FactColumns, rows: Uint32Array, asOf: Date) {
  const whole = coversStore(store, rows) && aggregateWholeStore(store, null, asOf.getTime());
  if (whole) return whole.get('all');
  return aggregateGroups(store, rows, groupRows(store, rows, null), asOf.getTime()).get('all');
}

export function aggregateBy(
  store: FactColumns,
  rows: Uint32Array,
  by: BreakdownDimension,
  asOf: Date,
): Array<[string, GroupAggregate]> {
  const whole =
    coversStore(store, rows) &&
    !(PERIOD_DIMENSIONS as readonly string[]).includes(by) &&
    aggregateWholeStore(store, by as FactDimension, asOf.getTime());
  const groups = whole || aggregateGroups(store, rows, groupRows(store, rows, by), asOf.getTime());
  return [...groups.entries()].sort((a, b) => a[0].localeCompare(b[0]));
}

const allRows = (store: FactColumns) => Uint32Array.from({ length: store.size }, (_, i) => i);

/** The summary of a list of referrals (pure; the service uses summaryOf on its store). */
export function summarize(
  facts: readonly ReferralFact[],
  rejections: readonly Rejection[],
  asOf: Date,
): Summary {
  const store = FactColumns.of(facts, rejections);
  return summaryOf(aggregateAll(store, allRows(store), asOf));
}

/** `hidden`: the cohort is a suppressed cell of a wider table (see MeasuresService). */
export function summaryOf(a: GroupAggregate | undefined, hidden = false): Summary {
  const n = a?.referrals ?? 0;
  if ((n > 0 && n < MIN_CELL_SIZE) || (hidden && n > 0))
    return { suppressed: true, referrals: null };
  if (!a)
    return {
      suppressed: false,
      referrals: 0,
      routed: 0,
      accepted: 0,
      closed: 0,
      closureRate: null,
      closureRateCi95: null,
      awaitingConsent: 0,
      everAwaitedConsent: 0,
      reroutes: 0,
      referralsRerouted: 0,
      deadlineBreaches: 0,
      referralsBreached: 0,
      routingAttempts: 0,
      rejections: [],
      timeToAccept: { accepted: 0, medianHours: null, p90Hours: null },
      timeToClose: { closed: 0, censored: 0, medianHours: null, p90Hours: null },
    };
  return {
    suppressed: false,
    referrals: n,
    routed: a.routed,
    accepted: a.accepted,
    closed: a.closed,
    closureRate: rate(a.closed, n),
    closureRateCi95: interval(wilsonInterval(a.closed, n)),
    awaitingConsent: a.awaitingConsent,
    everAwaitedConsent: a.everAwaitedConsent,
    reroutes: a.reroutes,
    referralsRerouted: a.referralsRerouted,
    deadlineBreaches: a.breaches,
    referralsBreached: a.referralsBreached,
    routingAttempts: a.attempts,
    rejections: rejectionTable(a.reasons, a.attempts),
    timeToAccept: a.timeToAccept,
    timeToClose: a.timeToClose,
  };
}

export interface RejectionRow {
  reason: string;
  network: boolean;
  suppressed: boolean;
  count: number | null;
  rate: number | null;
}

/** Ended attempts by coded reason, per routing attempt; small counts hidden like any cell. */
function rejectionTable(byReason: Map<string, number>, attempts: number): RejectionRow[] {
  const entries = [...byReason.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const suppression = suppressCells(entries.map(([, count]) => count));
  return entries.map(([reason, count], i) => ({
    reason,
    network: NETWORK_REASONS.has(reason as ReasonCode),
    suppressed: suppression[i].suppressed,
    count: suppression[i].suppressed ? null : count,
    rate: suppression[i].suppressed ? null : rate(count, attempts),
  }));
}

/** A table's suppression, with `forced` groups hidden as in another view of the same cells. */
function suppressed(grouped: ReadonlyArray<[string, GroupAggregate]>, forced: ReadonlySet<string>) {
  const indexes = new Set(grouped.flatMap(([group], i) => (forced.has(group) ? [i] : [])));
  return suppressCells(
    grouped.map(([, g]) => g.referrals),
    MIN_CELL_SIZE,
    indexes,
  );
}

export interface BreakdownRow {
  group: string;
  suppressed: boolean;
  suppression?: SuppressionReason;
  referrals: number | null;
  routed: number | null;
  accepted: number | null;
  closed: number | null;
  closureRate: number | null;
  medianHoursToClose: number | null;
  censored: number | null;
  deadlineBreaches: number | null;
}

export function breakdown(
  facts: readonly ReferralFact[],
  by: BreakdownDimension,
  asOf: Date,
): BreakdownRow[] {
  const store = FactColumns.of(facts);
  return breakdownOf(aggregateBy(store, allRows(store), by, asOf));
}

/** Groups of fewer than 11 referrals, and their complements, show no figure at all. */
export function breakdownOf(
  grouped: ReadonlyArray<[string, GroupAggregate]>,
  forced: ReadonlySet<string> = new Set(),
): BreakdownRow[] {
  const suppression = suppressed(grouped, forced);
  return grouped.map(([group, g], i) => {
    if (suppression[i].suppressed) {
      return {
        group,
        suppressed: true,
        suppression: suppression[i].reason,
        referrals: null,
        routed: null,
        accepted: null,
        closed: null,
        closureRate: null,
        medianHoursToClose: null,
        censored: null,
        deadlineBreaches: null,
      };
    }
    return {
      group,
      suppressed: false,
      referrals: g.referrals,
      routed: g.routed,
      accepted: g.accepted,
      closed: g.closed,
      closureRate: rate(g.closed, g.referrals),
      medianHoursToClose: g.timeToClose.medianHours,
      censored: g.timeToClose.censored,
      deadlineBreaches: g.breaches,
    };
  });
}

export interface EquityRow {
  group: string;
  reference: boolean;
  suppressed: boolean;
  suppression?: SuppressionReason;
  referrals: number | null;
  closed: number | null;
  closureRate: number | null;
  medianHoursToClose: number | null;
  censored: number | null;
  referenceClosureRate: number | null;
  referenceMedianHoursToClose: number | null;
  /** closureRate − reference's. */
  difference: number | null;
  /** closureRate / reference's. */
  ratio: number | null;
  ci95: { lower: number; upper: number } | null;
  intervalExcludesZero: boolean | null;
  pValue: number | null;
  /** Benjamini–Hochberg adjusted over the dimension's compared groups. */
  qValue: number | null;
  flagged: boolean;
}

export class ReferenceGroupError extends Error {
  override name = 'ReferenceGroupError';
}

/** Each group's closure beside the reference group's (default: the largest shown group). */
export interface EquityTable {
  dimension: EquityDimension;
  reference: string | null;
  method: string;
  rows: EquityRow[];
}

export function equity(
  facts: readonly ReferralFact[],
  dimension: EquityDimension,
  asOf: Date,
  options: { reference?: string; alpha?: number } = {},
): EquityTable {
  const store = FactColumns.of(facts);
  return equityOf(aggregateBy(store, allRows(store), dimension, asOf), dimension, options);
}

export function equityOf(
  grouped: ReadonlyArray<[string, GroupAggregate]>,
  dimension: EquityDimension,
  options: { reference?: string; alpha?: number; forced?: ReadonlySet<string> } = {},
): EquityTable {
  const alpha = options.alpha ?? 0.05;
  const suppression = suppressed(grouped, options.forced ?? new Set());
  const shown = grouped.filter((_, i) => !suppression[i].suppressed);
  let reference: string | null;
  if (options.reference !== undefined) {
    const found = grouped.findIndex(([group]) => group === options.reference);
    if (found < 0)
      throw new ReferenceGroupError(`no referrals in reference group ${options.reference}`);
    if (suppression[found].suppressed)
      throw new ReferenceGroupError(`reference group ${options.reference} is too small to show`);
    reference = options.reference;
  } else {
    reference =
      [...shown].sort(
        (a, b) => b[1].referrals - a[1].referrals || a[0].localeCompare(b[0]),
      )[0]?.[0] ?? null;
  }
  const referenceGroup = grouped.find(([group]) => group === reference)?.[1];
  const refClosed = referenceGroup?.closed ?? 0;
  const refN = referenceGroup?.referrals ?? 0;
  const refClose = referenceGroup?.timeToClose ?? { medianHours: null };
  const rows: EquityRow[] = grouped.map(([group, g], i) => {
    const base = {
      group,
      reference: group === reference,
      referenceClosureRate: reference ? rate(refClosed, refN) : null,
      referenceMedianHoursToClose: reference ? refClose.medianHours : null,
    };
    if (suppression[i].suppressed) {
      return {
        ...base,
        suppressed: true,
        suppression: suppression[i].reason,
        referrals: null,
        closed: null,
        closureRate: null,
        medianHoursToClose: null,
        censored: null,
        difference: null,
        ratio: null,
        ci95: null,
        intervalExcludesZero: null,
        pValue: null,
        qValue: null,
        flagged: false,
      };
    }
    const close = g.timeToClose;
    const closed = close.closed;
    const compared = reference !== null && group !== reference;
    const ci = compared ? newcombeInterval(closed, g.referrals, refClosed, refN) : null;
    const groupRate = closed / g.referrals;
    const refRate = refN > 0 ? refClosed / refN : null;
    return {
      ...base,
      suppressed: false,
      referrals: g.referrals,
      closed,
      closureRate: rate(closed, g.referrals),
      medianHoursToClose: close.medianHours,
      censored: close.censored,
      difference: ci ? round(ci.difference, 6) : null,
      ratio: compared && refRate ? round(groupRate / refRate, 6) : null,
      ci95: ci ? interval(ci) : null,
      intervalExcludesZero: ci ? ci.lower > 0 || ci.upper < 0 : null,
      pValue: compared ? newcombePValue(closed, g.referrals, refClosed, refN) : null,
      qValue: null,
      flagged: false,
    };
  });
  const q = benjaminiHochberg(rows.map((r) => r.pValue));
  rows.forEach((row, i) => {
    row.pValue = round(row.pValue, 6);
    row.qValue = round(q[i], 6);
    row.flagged = q[i] !== null && q[i]! <= alpha && row.intervalExcludesZero === true;
  });
  return {
    dimension,
    reference,
    method:
      "closure-rate difference vs the reference group: Newcombe's hybrid score 95% interval (from Wilson intervals); " +
      'flag when the Benjamini–Hochberg adjusted p-value (consistent with the interval) is ≤ 0.05; ' +
      'median time to close: Kaplan–Meier, open referrals censored; groups under 11 referrals suppressed with complementary suppression',
    rows,
  };
}
