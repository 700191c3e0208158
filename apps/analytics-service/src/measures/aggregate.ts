import { periodOf, PERIOD_DIMENSIONS, type BreakdownDimension } from './dimensions';
import type { PeriodDimension } from './dimensions';
import { FactColumns, type FactDimension } from './fact-columns';

/** Everything the measures need of a group of referrals. */
export interface GroupAggregate {
  referrals: number;
  routed: number;
  accepted: number;
  closed: number;
  awaitingConsent: number;
  everAwaitedConsent: number;
  reroutes: number;
  referralsRerouted: number;
  breaches: number;
  referralsBreached: number;
  attempts: number;
  /** Ended attempts by coded reason. */
  reasons: Map<string, number>;
  timeToAccept: { accepted: number; medianHours: number | null; p90Hours: number | null };
  timeToClose: {
    closed: number;
    censored: number;
    medianHours: number | null;
    p90Hours: number | null;
  };
}

const round4 = (value: number | null) => (value === null ? null : Math.round(value * 1e4) / 1e4);
const hours = (seconds: number | null) => (seconds === null ? null : round4(seconds / 3600));

/** Sorts in place: native below a few thousand keys, else a two-pass 16-bit LSD radix sort. */
export function sortUint32(keys: Uint32Array, scratch?: Uint32Array): Uint32Array {
  const n = keys.length;
  if (n < 4096) return keys.sort();
  const buffer = scratch && scratch.length >= n ? scratch.subarray(0, n) : new Uint32Array(n);
  const count = new Uint32Array(65536);
  for (const shift of [0, 16]) {
    const [from, to] = shift === 0 ? [keys, buffer] : [buffer, keys];
    count.fill(0);
    for (let i = 0; i < n; i++) count[(from[i] >>> shift) & 0xffff]++;
    let sum = 0;
    for (let d = 0; d < 65536; d++) {
      const c = count[d];
      count[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) to[count[(from[i] >>> shift) & 0xffff]++] = from[i];
  }
  return keys;
}

/**
 * Kaplan–Meier over sorted keys `seconds * 2 + censored`: at tied times events come before
 * censorings (someone censored at t was at risk at t). Quantile p is the smallest t with
 * S(t) ≤ 1 − p; null when the curve never gets there.
 */
export function kaplanMeierSorted(keys: Uint32Array): {
  median: number | null;
  p90: number | null;
} {
  let atRisk = keys.length;
  let survival = 1;
  let median: number | null = null;
  let p90: number | null = null;
  for (let i = 0; i < keys.length && p90 === null;) {
    const t = keys[i] >>> 1;
    let events = 0;
    let censored = 0;
    while (i < keys.length && keys[i] >>> 1 === t) {
      if (keys[i] & 1) censored++;
      else events++;
      i++;
    }
    if (events > 0) {
      survival *= 1 - events / atRisk;
      if (median === null && survival <= 0.5 + 1e-12) median = t;
      if (survival <= 0.1 + 1e-12) p90 = t;
    }
    atRisk -= events + censored;
  }
  return { median, p90 };
}

/** The smallest x of sorted values with F(x) ≥ p (the inverse empirical distribution). */
function quantileSorted(sorted: Uint32Array, p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil(p * sorted.length - 1e-9) - 1)];
}

export interface Grouping {
  /** The group index of each selected row, in the selection's order. */
  codes: Uint32Array;
  names: string[];
}

/** Groups the selected rows by a dimension or a period of the request time. */
export function groupRows(
  store: FactColumns,
  rows: Uint32Array,
  by: BreakdownDimension | null,
): Grouping {
  const codes = new Uint32Array(rows.length);
  if (by === null) return { codes, names: ['all'] };
  if ((PERIOD_DIMENSIONS as readonly string[]).includes(by)) {
    const names: string[] = [];
    const index = new Map<string, number>();
    const byDay = new Map<number, number>();
    for (let i = 0; i < rows.length; i++) {
      const ms = store.requestedMs[rows[i]];
      const day = Math.floor(ms / 86_400_000);
      let code = byDay.get(day);
      if (code === undefined) {
        const name = periodOf(new Date(ms), by as PeriodDimension);
        code = index.get(name);
        if (code === undefined) {
          code = names.length;
          names.push(name);
          index.set(name, code);
        }
        byDay.set(day, code);
      }
      codes[i] = code;
    }
    return { codes, names };
  }
  const column = store.dims.get(by as FactDimension)!;
  for (let i = 0; i < rows.length; i++) codes[i] = column[rows[i]];
  return { codes, names: [...store.dictionary(by as FactDimension)] };
}

/**
 * Aggregates of each group that has at least one selected row, by group name. Open referrals are
 * censored at `asOfMs`, ended ones without closing at their end.
 */
export function aggregateGroups(
  store: FactColumns,
  rows: Uint32Array,
  grouping: Grouping,
  asOfMs: number,
): Map<string, GroupAggregate> {
  const g = grouping.names.length;
  const size = new Uint32Array(g);
  const accepted = new Uint32Array(g);
  for (let i = 0; i < rows.length; i++) {
    size[grouping.codes[i]]++;
    if (store.isAccepted(rows[i])) accepted[grouping.codes[i]]++;
  }
  // Each group's keys in one contiguous slice of one buffer.
  const closeStart = new Uint32Array(g + 1);
  const acceptStart = new Uint32Array(g + 1);
  for (let k = 0; k < g; k++) {
    closeStart[k + 1] = closeStart[k] + size[k];
    acceptStart[k + 1] = acceptStart[k] + accepted[k];
  }
  const closeKeys = new Uint32Array(rows.length);
  const acceptKeys = new Uint32Array(acceptStart[g]);
  const closeFill = closeStart.slice(0, g);
  const acceptFill = acceptStart.slice(0, g);
  const aggregates = Array.from({ length: g }, () => ({
    routed: 0,
    closed: 0,
    awaitingConsent: 0,
    everAwaitedConsent: 0,
    reroutes: 0,
    referralsRerouted: 0,
    breaches: 0,
    referralsBreached: 0,
    attempts: 0,
    reasons: new Map<string, number>(),
  }));
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    const k = grouping.codes[i];
    const a = aggregates[k];
    const closed = store.isClosed(row);
    if (store.isRouted(row)) a.routed++;
    if (closed) a.closed++;
    if (store.isAwaitingConsent(row)) a.awaitingConsent++;
    if (store.awaitedConsent(row)) a.everAwaitedConsent++;
    const reroutes = store.reroutes[row];
    a.reroutes += reroutes;
    if (reroutes > 0) a.referralsRerouted++;
    const breaches = store.breaches[row];
    a.breaches += breaches;
    if (breaches > 0) a.referralsBreached++;
    a.attempts += store.attempts[row];
    let key: number;
    if (closed) key = store.closeSec[row] * 2;
    else if (store.isEnded(row)) key = store.endSec[row] * 2 + 1;
    else key = Math.max(0, Math.round((asOfMs - store.requestedMs[row]) / 1000)) * 2 + 1;
    closeKeys[closeFill[k]++] = key;
    if (store.isAccepted(row)) acceptKeys[acceptFill[k]++] = store.acceptSec[row];
  }
  for (const [reason, column] of store.reasons) {
    for (let i = 0; i < rows.length; i++) {
      const n = column[rows[i]];
      if (n === 0) continue;
      const reasons = aggregates[grouping.codes[i]].reasons;
      reasons.set(reason, (reasons.get(reason) ?? 0) + n);
    }
  }
  const scratch = new Uint32Array(rows.length);
  const result = new Map<string, GroupAggregate>();
  for (let k = 0; k < g; k++) {
    if (size[k] === 0) continue;
    const close = kaplanMeierSorted(
      sortUint32(closeKeys.subarray(closeStart[k], closeStart[k + 1]), scratch),
    );
    const accepts = sortUint32(acceptKeys.subarray(acceptStart[k], acceptStart[k + 1]), scratch);
    const a = aggregates[k];
    result.set(grouping.names[k], {
      ...a,
      referrals: size[k],
      accepted: accepted[k],
      timeToAccept: {
        accepted: accepted[k],
        medianHours: hours(quantileSorted(accepts, 0.5)),
        p90Hours: hours(quantileSorted(accepts, 0.9)),
      },
      timeToClose: {
        closed: a.closed,
        censored: size[k] - a.closed,
        medianHours: hours(close.median),
        p90Hours: hours(close.p90),
      },
    });
  }
  return result;
}
