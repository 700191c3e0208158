import { NETWORK_REASONS, type ReasonCode } from '../ingest/reason-codes';
import { benjaminiHochberg } from '../stats/multiple-testing';
import {
  newcombeInterval,
  newcombePValue,
  wilsonInterval,
  type Interval,
} from '../stats/proportions';
import { suppressCells, MIN_CELL_SIZE, type SuppressionReason } from '../stats/suppression';
import { quantile, timeToEvent } from '../stats/survival';
import {
  periodOf,
  PERIOD_DIMENSIONS,
  UNKNOWN,
  type BreakdownDimension,
  type EquityDimension,
  type PeriodDimension,
} from './dimensions';

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

const HOUR = 3_600_000;
const hoursBetween = (from: Date, to: Date) => (to.getTime() - from.getTime()) / HOUR;
const round = (value: number | null, digits = 4) =>
  value === null ? null : Math.round(value * 10 ** digits) / 10 ** digits;

/**
 * Time to close, censored: a completed referral closes at its completion; an open one is
 * censored at `asOf`; one that ended without closing (cancelled, failed) is censored when it
 * ended. A median of the closed ones alone would favour the fast ones.
 */
export function timeToClose(facts: readonly ReferralFact[], asOf: Date) {
  const summary = timeToEvent(
    facts.map((f) =>
      f.completedAt
        ? { time: hoursBetween(f.requestedAt, f.completedAt), event: true }
        : {
            time: Math.max(0, hoursBetween(f.requestedAt, f.terminalAt ?? asOf)),
            event: false,
          },
    ),
  );
  return {
    closed: summary.events,
    censored: summary.censored,
    medianHours: round(summary.median),
    p90Hours: round(summary.p90),
  };
}

export function timeToAccept(facts: readonly ReferralFact[]) {
  const hours = facts
    .filter((f) => f.acceptedAt)
    .map((f) => hoursBetween(f.requestedAt, f.acceptedAt!));
  return {
    accepted: hours.length,
    medianHours: round(quantile(hours, 0.5)),
    p90Hours: round(quantile(hours, 0.9)),
  };
}

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
  timeToAccept?: ReturnType<typeof timeToAccept>;
  timeToClose?: ReturnType<typeof timeToClose>;
}

export function summarize(
  facts: readonly ReferralFact[],
  rejections: readonly Rejection[],
  asOf: Date,
): Summary {
  const n = facts.length;
  if (n > 0 && n < MIN_CELL_SIZE) return { suppressed: true, referrals: null };
  const closed = facts.filter((f) => f.completedAt).length;
  const attempts = facts.reduce((sum, f) => sum + f.attempts, 0);
  // One ended attempt counts once, whatever was published twice.
  const ended = new Map<string, string>();
  for (const r of rejections)
    ended.set(`${r.referralId}#${r.attempt ?? ''}`, r.reasonCode ?? 'other');
  const byReason = new Map<string, number>();
  for (const reason of ended.values()) byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
  return {
    suppressed: false,
    referrals: n,
    routed: facts.filter((f) => f.routedAt).length,
    accepted: facts.filter((f) => f.acceptedAt).length,
    closed,
    closureRate: rate(closed, n),
    closureRateCi95: interval(wilsonInterval(closed, n)),
    awaitingConsent: facts.filter((f) => f.currentState === 'awaiting-consent').length,
    everAwaitedConsent: facts.filter((f) => f.awaitedConsent).length,
    reroutes: facts.reduce((sum, f) => sum + f.reroutes, 0),
    referralsRerouted: facts.filter((f) => f.reroutes > 0).length,
    deadlineBreaches: facts.reduce((sum, f) => sum + f.breaches, 0),
    referralsBreached: facts.filter((f) => f.breaches > 0).length,
    routingAttempts: attempts,
    rejections: rejectionTable(byReason, attempts),
    timeToAccept: timeToAccept(facts),
    timeToClose: timeToClose(facts, asOf),
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

const DIMENSION_OF: Record<Exclude<BreakdownDimension, PeriodDimension>, keyof ReferralFact> = {
  cbo: 'cbo',
  category: 'category',
  requester: 'requester',
  race: 'race',
  ethnicity: 'ethnicity',
  language: 'language',
  zip: 'zip',
  payer: 'payer',
  ageBand: 'ageBand',
  sex: 'sex',
};

export function groupOf(fact: ReferralFact, by: BreakdownDimension): string {
  if ((PERIOD_DIMENSIONS as readonly string[]).includes(by))
    return periodOf(fact.requestedAt, by as PeriodDimension);
  const value = fact[DIMENSION_OF[by as Exclude<BreakdownDimension, PeriodDimension>]];
  return typeof value === 'string' && value.length > 0 ? value : UNKNOWN;
}

function groups(facts: readonly ReferralFact[], by: BreakdownDimension) {
  const map = new Map<string, ReferralFact[]>();
  for (const fact of facts) {
    const key = groupOf(fact, by);
    map.set(key, [...(map.get(key) ?? []), fact]);
  }
  return [...map.entries()].sort((a, b) => a[0].localeCompare(b[0]));
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

/** Groups of fewer than 11 referrals, and their complements, show no figure at all. */
export function breakdown(
  facts: readonly ReferralFact[],
  by: BreakdownDimension,
  asOf: Date,
): BreakdownRow[] {
  const grouped = groups(facts, by);
  const suppression = suppressCells(grouped.map(([, g]) => g.length));
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
    const close = timeToClose(g, asOf);
    return {
      group,
      suppressed: false,
      referrals: g.length,
      routed: g.filter((f) => f.routedAt).length,
      accepted: g.filter((f) => f.acceptedAt).length,
      closed: close.closed,
      closureRate: rate(close.closed, g.length),
      medianHoursToClose: close.medianHours,
      censored: close.censored,
      deadlineBreaches: g.reduce((sum, f) => sum + f.breaches, 0),
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
export function equity(
  facts: readonly ReferralFact[],
  dimension: EquityDimension,
  asOf: Date,
  options: { reference?: string; alpha?: number } = {},
): { dimension: EquityDimension; reference: string | null; method: string; rows: EquityRow[] } {
  const alpha = options.alpha ?? 0.05;
  const grouped = groups(facts, dimension);
  const suppression = suppressCells(grouped.map(([, g]) => g.length));
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
      [...shown].sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]))[0]?.[0] ??
      null;
  }
  const referenceFacts = grouped.find(([group]) => group === reference)?.[1] ?? [];
  const refClosed = referenceFacts.filter((f) => f.completedAt).length;
  const refN = referenceFacts.length;
  const refClose = timeToClose(referenceFacts, asOf);
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
    const close = timeToClose(g, asOf);
    const closed = close.closed;
    const compared = reference !== null && group !== reference;
    const ci = compared ? newcombeInterval(closed, g.length, refClosed, refN) : null;
    const groupRate = closed / g.length;
    const refRate = refN > 0 ? refClosed / refN : null;
    return {
      ...base,
      suppressed: false,
      referrals: g.length,
      closed,
      closureRate: rate(closed, g.length),
      medianHoursToClose: close.medianHours,
      censored: close.censored,
      difference: ci ? round(ci.difference, 6) : null,
      ratio: compared && refRate ? round(groupRate / refRate, 6) : null,
      ci95: ci ? interval(ci) : null,
      intervalExcludesZero: ci ? ci.lower > 0 || ci.upper < 0 : null,
      pValue: compared ? newcombePValue(closed, g.length, refClosed, refN) : null,
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
