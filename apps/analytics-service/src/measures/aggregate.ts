import { periodOf, PERIOD_DIMENSIONS, type BreakdownDimension } from './dimensions';
import type { PeriodDimension } from './dimensions';
import { FactColumns, type FactDimension, type SortedOrders } from './fact-columns';

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
  options: { streaming?: boolean } = {},
): Map<string, GroupAggregate> {
  const g = grouping.names.length;
  const counts = countGroups(store, rows, rows.length, grouping.codes, g);
  // Most of the store: walk its sorted orders (no sort per query); a small cohort: sort its keys.
  const orders =
    (options.streaming ?? rows.length >= Math.max(STREAMING_MIN, store.size / 4)) && g < 65535
      ? store.sortedOrders()
      : undefined;
  const times = orders
    ? streamedTimes(store, orders, rows, grouping, counts.size, counts.accepted, asOfMs)
    : sortedTimes(store, rows, grouping, counts.size, counts.accepted, asOfMs);
  return groupAggregates(grouping.names, counts, times);
}

/** The counts of each group, before any time to event. */
interface GroupCounts {
  size: Uint32Array;
  accepted: Uint32Array;
  others: Array<Omit<GroupAggregate, 'referrals' | 'accepted' | 'timeToAccept' | 'timeToClose'>>;
}

/**
 * Counts of `n` rows by group: the i-th row is `rows[i]` (or i itself when rows is null, the
 * whole store) and its group `codes[i]`.
 */
function countGroups(
  store: FactColumns,
  rows: Uint32Array | null,
  n: number,
  codes: ArrayLike<number>,
  g: number,
): GroupCounts {
  const size = new Uint32Array(g);
  const accepted = new Uint32Array(g);
  const others = Array.from({ length: g }, () => ({
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
  const reasonColumns = [...store.reasons];
  for (let i = 0; i < n; i++) {
    const row = rows ? rows[i] : i;
    const k = codes[i];
    const a = others[k];
    size[k]++;
    if (store.isAccepted(row)) accepted[k]++;
    if (store.isRouted(row)) a.routed++;
    if (store.isClosed(row)) a.closed++;
    if (store.isAwaitingConsent(row)) a.awaitingConsent++;
    if (store.awaitedConsent(row)) a.everAwaitedConsent++;
    const reroutes = store.reroutes[row];
    a.reroutes += reroutes;
    if (reroutes > 0) a.referralsRerouted++;
    const breaches = store.breaches[row];
    a.breaches += breaches;
    if (breaches > 0) a.referralsBreached++;
    a.attempts += store.attempts[row];
    if (!store.hasReasons(row)) continue;
    for (const [reason, column] of reasonColumns) {
      const count = column[row];
      if (count > 0) a.reasons.set(reason, (a.reasons.get(reason) ?? 0) + count);
    }
  }
  return { size, accepted, others };
}

/** Each group with at least one row, by name. */
function groupAggregates(
  names: readonly string[],
  counts: GroupCounts,
  times: GroupTimes[],
): Map<string, GroupAggregate> {
  const result = new Map<string, GroupAggregate>();
  for (let k = 0; k < names.length; k++) {
    const size = counts.size[k];
    if (size === 0) continue;
    const a = counts.others[k];
    const t = times[k];
    result.set(names[k], {
      ...a,
      reasons: new Map(a.reasons),
      referrals: size,
      accepted: counts.accepted[k],
      timeToAccept: {
        accepted: counts.accepted[k],
        medianHours: hours(t.acceptMedian),
        p90Hours: hours(t.acceptP90),
      },
      timeToClose: {
        closed: a.closed,
        censored: size - a.closed,
        medianHours: hours(t.closeMedian),
        p90Hours: hours(t.closeP90),
      },
    });
  }
  return result;
}

/** Below this many rows a cohort's keys are sorted; above, the store's orders are walked. */
const STREAMING_MIN = 50_000;

interface GroupTimes {
  closeMedian: number | null;
  closeP90: number | null;
  acceptMedian: number | null;
  acceptP90: number | null;
}

/** Kaplan–Meier key of a row: seconds × 2, + 1 when censored (open ones at `asOfMs`). */
function closeKeyOf(store: FactColumns, row: number, asOfMs: number): number {
  if (store.isClosed(row)) return store.closeSec[row] * 2;
  if (store.isEnded(row)) return store.endSec[row] * 2 + 1;
  return Math.max(0, Math.round((asOfMs - store.requestedMs[row]) / 1000)) * 2 + 1;
}

/** Each group's keys sorted (radix) and read as one curve per group. */
function sortedTimes(
  store: FactColumns,
  rows: Uint32Array,
  grouping: Grouping,
  size: Uint32Array,
  accepted: Uint32Array,
  asOfMs: number,
): GroupTimes[] {
  const g = grouping.names.length;
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
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    const k = grouping.codes[i];
    closeKeys[closeFill[k]++] = closeKeyOf(store, row, asOfMs);
    if (store.isAccepted(row)) acceptKeys[acceptFill[k]++] = store.acceptSec[row];
  }
  const scratch = new Uint32Array(rows.length);
  return Array.from({ length: g }, (_, k) => {
    const close = kaplanMeierSorted(
      sortUint32(closeKeys.subarray(closeStart[k], closeStart[k + 1]), scratch),
    );
    const accepts = sortUint32(acceptKeys.subarray(acceptStart[k], acceptStart[k + 1]), scratch);
    return {
      closeMedian: close.median,
      closeP90: close.p90,
      acceptMedian: quantileSorted(accepts, 0.5),
      acceptP90: quantileSorted(accepts, 0.9),
    };
  });
}

/**
 * The same figures from one walk of the store's sorted orders: ended rows by key merged with
 * open rows by censoring time, each cohort row advancing its group's Kaplan–Meier curve exactly
 * as kaplanMeierSorted does (at a tied time, events before censorings); then accepted rows by
 * time to accept until every group has reached its p90 rank.
 */
function streamedTimes(
  store: FactColumns,
  orders: SortedOrders,
  rows: Uint32Array,
  grouping: Grouping,
  size: Uint32Array,
  accepted: Uint32Array,
  asOfMs: number,
): GroupTimes[] {
  const g = grouping.names.length;
  const member = orders.member;
  for (let i = 0; i < rows.length; i++) member[rows[i]] = grouping.codes[i] + 1;
  try {
    const close = streamedClose(orders, member, 1, size, asOfMs);
    const accept = streamedAccept(store, orders, member, 1, accepted);
    return Array.from({ length: g }, (_, k) => ({ ...close[k], ...accept[k] }));
  } finally {
    for (let i = 0; i < rows.length; i++) member[rows[i]] = 0;
  }
}

/**
 * Kaplan–Meier of each group from one walk of the ended rows by key merged with the open rows by
 * censoring time. A row's group is `codes[row] - shift` (none when negative); `size` is each
 * group's number of rows.
 */
function streamedClose(
  orders: SortedOrders,
  codes: Uint16Array,
  shift: number,
  size: Uint32Array,
  asOfMs: number,
): Array<{ closeMedian: number | null; closeP90: number | null }> {
  const g = size.length;
  const atRisk = Float64Array.from(size);
  const survival = new Float64Array(g).fill(1);
  const time = new Float64Array(g).fill(-1);
  const pending = new Uint32Array(g);
  const median = new Float64Array(g).fill(-1);
  const p90 = new Float64Array(g).fill(-1);
  const flush = (k: number) => {
    const events = pending[k];
    if (events === 0) return;
    survival[k] *= 1 - events / atRisk[k];
    if (median[k] < 0 && survival[k] <= 0.5 + 1e-12) median[k] = time[k];
    if (p90[k] < 0 && survival[k] <= 0.1 + 1e-12) p90[k] = time[k];
    atRisk[k] -= events;
    pending[k] = 0;
  };
  const step = (row: number, key: number) => {
    const k = codes[row] - shift;
    if (k < 0) return;
    const t = key >>> 1;
    if (key & 1) {
      flush(k);
      atRisk[k]--;
    } else {
      if (time[k] !== t) flush(k);
      time[k] = t;
      pending[k]++;
    }
  };
  const { ended, endedKeys, open, openRequestedMs } = orders;
  // Open referrals are censored now: latest request first is shortest time first.
  const openKey = (x: number) =>
    x < open.length
      ? Math.max(0, Math.round((asOfMs - openRequestedMs[x]) / 1000)) * 2 + 1
      : Infinity;
  let i = 0;
  let j = 0;
  let nextOpen = openKey(0);
  while (i < ended.length || j < open.length) {
    if (i < ended.length && endedKeys[i] <= nextOpen) {
      step(ended[i], endedKeys[i]);
      i++;
    } else {
      step(open[j], nextOpen);
      nextOpen = openKey(++j);
    }
  }
  for (let k = 0; k < g; k++) flush(k);
  const orNull = (v: number) => (v < 0 ? null : v);
  return Array.from({ length: g }, (_, k) => ({
    closeMedian: orNull(median[k]),
    closeP90: orNull(p90[k]),
  }));
}

/** Time to accept: the smallest x with F(x) ≥ p, i.e. the value at rank ceil(p·n). */
function streamedAccept(
  store: FactColumns,
  orders: SortedOrders,
  codes: Uint16Array,
  shift: number,
  accepted: Uint32Array,
): Array<{ acceptMedian: number | null; acceptP90: number | null }> {
  const g = accepted.length;
  const rank = (p: number, n: number) => Math.max(0, Math.ceil(p * n - 1e-9) - 1);
  const seen = new Uint32Array(g);
  const acceptMedian = new Float64Array(g).fill(-1);
  const acceptP90 = new Float64Array(g).fill(-1);
  let left = 0;
  for (let k = 0; k < g; k++) if (accepted[k] > 0) left++;
  for (let x = 0; x < orders.accepted.length && left > 0; x++) {
    const row = orders.accepted[x];
    const k = codes[row] - shift;
    if (k < 0) continue;
    const r = seen[k]++;
    if (r === rank(0.5, accepted[k])) acceptMedian[k] = store.acceptSec[row];
    if (r === rank(0.9, accepted[k])) {
      acceptP90[k] = store.acceptSec[row];
      left--;
    }
  }
  const orNull = (v: number) => (v < 0 ? null : v);
  return Array.from({ length: g }, (_, k) => ({
    acceptMedian: orNull(acceptMedian[k]),
    acceptP90: orNull(acceptP90[k]),
  }));
}

/**
 * A cohort of every row of the store (a period covering all of it, no filter): what does not
 * depend on the time of asking (counts, reasons, time to accept) is kept per version of the store
 * and dimension, and each answer walks only the Kaplan–Meier orders. The dimension's column is
 * the group of each row (with no dimension, the zeroed scratch column: one group), so nothing is
 * selected, grouped or copied.
 */
export function aggregateWholeStore(
  store: FactColumns,
  by: FactDimension | null,
  asOfMs: number,
): Map<string, GroupAggregate> | undefined {
  const orders = store.sortedOrders();
  if (!orders) return undefined;
  const codes = by === null ? orders.member : store.dims.get(by)!;
  const key = by ?? '';
  let cached = wholeStoreCache.get(store)?.get(key);
  if (!cached || cached.version !== store.version) {
    const names = by === null ? ['all'] : [...store.dictionary(by)];
    const counts = countGroups(store, null, store.size, codes, names.length);
    const accept = streamedAccept(store, orders, codes, 0, counts.accepted);
    cached = { version: store.version, names, counts, accept };
    const perStore = wholeStoreCache.get(store) ?? new Map();
    perStore.set(key, cached);
    wholeStoreCache.set(store, perStore);
  }
  const { names, counts, accept } = cached;
  const close = streamedClose(orders, codes, 0, counts.size, asOfMs);
  return groupAggregates(
    names,
    counts,
    names.map((_, k) => ({ ...close[k], ...accept[k] })),
  );
}

const wholeStoreCache = new WeakMap<
  FactColumns,
  Map<
    string,
    {
      version: number;
      names: string[];
      counts: GroupCounts;
      accept: Array<{ acceptMedian: number | null; acceptP90: number | null }>;
    }
  >
>();
