import { UNKNOWN } from './dimensions';
import { spliceOrder, type Entry } from './sorted-splice';
import type { ReferralFact, Rejection } from './measures';

/** The dimensions a row carries, dictionary-coded. */
export const FACT_DIMENSIONS = [
  'cbo',
  'category',
  'requester',
  'race',
  'ethnicity',
  'language',
  'zip',
  'payer',
  'ageBand',
  'sex',
] as const;
export type FactDimension = (typeof FACT_DIMENSIONS)[number];

const ROUTED = 1;
const AWAITED_CONSENT = 2;
const AWAITING_CONSENT = 4;
const CLOSED = 8;
const ENDED = 16;
const ACCEPTED = 32;
const HAS_REASONS = 64;

/** Row numbers packed beside a sort key in one float64 (exact below 2^53). */
const ROW_BITS = 2 ** 24;

/**
 * The store's rows in the orders time-to-event measures read them: ended referrals by their
 * Kaplan–Meier key (duration × 2 + censored), open ones by request time, latest first (their
 * censoring time at any moment ascending), accepted ones by time to accept. Built once per
 * version of the store, so a query over most of the store walks them instead of sorting.
 */
export interface SortedOrders {
  version: number;
  ended: Uint32Array;
  /** The key of each row of `ended`, in the same order. */
  endedKeys: Uint32Array;
  open: Uint32Array;
  /** The request time of each row of `open`, in the same order. */
  openRequestedMs: Float64Array;
  accepted: Uint32Array;
  /** The time to accept of each row of `accepted`, in the same order. */
  acceptedKeys: Uint32Array;
  /** Scratch for a query's group codes by row (code + 1; 0: not in the cohort); left zeroed. */
  member: Uint16Array;
}

/** Where a row stands in the sorted orders: its ended key (-1: open), request time, time to accept (-1: none). */
interface OrderKeys {
  ended: number;
  requestedMs: number;
  accept: number;
}

/** One referral's row as the store takes it (from the read model or from facts). */
export interface FactRow {
  fact: ReferralFact;
  /** The coded reason of each ended attempt, one per attempt. */
  reasons: readonly string[];
}

class Dictionary {
  readonly values: string[] = [];
  private readonly codes = new Map<string, number>();
  code(value: string | null): number {
    const v = value && value.length > 0 ? value : UNKNOWN;
    let code = this.codes.get(v);
    if (code === undefined) {
      code = this.values.length;
      this.values.push(v);
      this.codes.set(v, code);
    }
    return code;
  }
  find(value: string): number | undefined {
    return this.codes.get(value);
  }
}

/**
 * The referrals of the read model as typed columns, one row per referral: a query scans a few
 * megabytes of numbers instead of building an object per referral, and durations are whole
 * seconds so that Kaplan–Meier sorts with a two-pass radix sort. Exact counts; times to the second.
 */
export class FactColumns {
  size = 0;
  /** Bumped by every upsert: what was derived from an older version is stale. */
  version = 0;
  /** How many times the sorted orders were sorted from scratch (not merged). */
  fullSorts = 0;
  private sorted?: SortedOrders;
  /**
   * Rows upserted since the sorted orders were built, with where each stood in them then (null:
   * a new row), so that the next orders move just those rows rather than sort the store again;
   * null when so many changed that a sort is cheaper.
   */
  private dirty: Map<number, OrderKeys | null> | null = new Map();
  private capacity = 0;
  /** Earliest and latest request time ever stored. */
  private readonly requestedBounds = [Infinity, -Infinity];
  private rowNumbers = new Uint32Array(0);
  private readonly rowOf = new Map<string, number>();
  requestedMs = new Float64Array(0);
  /** Seconds from request to acceptance, to completion, and to the end (any terminal state). */
  acceptSec = new Uint32Array(0);
  closeSec = new Uint32Array(0);
  endSec = new Uint32Array(0);
  flags = new Uint8Array(0);
  attempts = new Uint16Array(0);
  reroutes = new Uint16Array(0);
  breaches = new Uint16Array(0);
  readonly dims = new Map<FactDimension, Uint16Array>();
  readonly dictionaries = new Map<FactDimension, Dictionary>(
    FACT_DIMENSIONS.map((d) => [d, new Dictionary()]),
  );
  /** Ended attempts per coded reason. */
  readonly reasons = new Map<string, Uint16Array>();

  constructor() {
    for (const d of FACT_DIMENSIONS) this.dims.set(d, new Uint16Array(0));
  }

  static of(facts: readonly ReferralFact[], rejections: readonly Rejection[] = []): FactColumns {
    // One ended attempt counts once, whatever was published twice (the last reason seen).
    const ended = new Map<string, Map<string, string>>();
    for (const r of rejections) {
      const attempts = ended.get(r.referralId) ?? new Map<string, string>();
      attempts.set(String(r.attempt ?? ''), r.reasonCode ?? 'other');
      ended.set(r.referralId, attempts);
    }
    const store = new FactColumns();
    for (const fact of facts)
      store.upsert({ fact, reasons: [...(ended.get(fact.referralId)?.values() ?? [])] });
    return store;
  }

  dictionary(dimension: FactDimension): readonly string[] {
    return this.dictionaries.get(dimension)!.values;
  }

  /** The code of a value of a dimension, or undefined when no row has it. */
  codeOf(dimension: FactDimension, value: string): number | undefined {
    return this.dictionaries.get(dimension)!.find(value);
  }

  upsert({ fact, reasons }: FactRow): void {
    this.version++;
    let row = this.rowOf.get(fact.referralId);
    const isNew = row === undefined;
    if (row === undefined) {
      row = this.size++;
      this.ensure(this.size);
      this.rowOf.set(fact.referralId, row);
    }
    if (this.sorted && this.dirty && !this.dirty.has(row)) {
      this.dirty.set(row, isNew ? null : this.orderKeys(row));
      if (this.dirty.size > Math.max(4096, this.size / 8)) this.dirty = null;
    }
    const requested = fact.requestedAt.getTime();
    const sec = (at: Date | null) =>
      at ? Math.max(0, Math.round((at.getTime() - requested) / 1000)) : 0;
    this.requestedMs[row] = requested;
    if (requested < this.requestedBounds[0]) this.requestedBounds[0] = requested;
    if (requested > this.requestedBounds[1]) this.requestedBounds[1] = requested;
    this.acceptSec[row] = sec(fact.acceptedAt);
    this.closeSec[row] = sec(fact.completedAt);
    this.endSec[row] = sec(fact.terminalAt);
    this.flags[row] =
      (fact.routedAt ? ROUTED : 0) |
      (fact.awaitedConsent ? AWAITED_CONSENT : 0) |
      (fact.currentState === 'awaiting-consent' ? AWAITING_CONSENT : 0) |
      (fact.completedAt ? CLOSED : 0) |
      (fact.terminalAt ? ENDED : 0) |
      (fact.acceptedAt ? ACCEPTED : 0) |
      (reasons.length > 0 ? HAS_REASONS : 0);
    this.attempts[row] = Math.min(fact.attempts, 65535);
    this.reroutes[row] = Math.min(fact.reroutes, 65535);
    this.breaches[row] = Math.min(fact.breaches, 65535);
    for (const d of FACT_DIMENSIONS)
      this.dims.get(d)![row] = this.dictionaries.get(d)!.code(fact[d]);
    for (const column of this.reasons.values()) column[row] = 0;
    for (const reason of reasons) {
      let column = this.reasons.get(reason);
      if (!column) {
        column = new Uint16Array(this.capacity);
        this.reasons.set(reason, column);
      }
      column[row]++;
    }
  }

  private ensure(size: number): void {
    if (size <= this.capacity) return;
    const capacity = Math.max(1024, this.capacity * 2, size);
    const grow = <T extends Float64Array | Uint32Array | Uint16Array | Uint8Array>(a: T): T => {
      const next = new (a.constructor as new (n: number) => T)(capacity);
      next.set(a);
      return next;
    };
    this.requestedMs = grow(this.requestedMs);
    this.acceptSec = grow(this.acceptSec);
    this.closeSec = grow(this.closeSec);
    this.endSec = grow(this.endSec);
    this.flags = grow(this.flags);
    this.attempts = grow(this.attempts);
    this.reroutes = grow(this.reroutes);
    this.breaches = grow(this.breaches);
    for (const d of FACT_DIMENSIONS) this.dims.set(d, grow(this.dims.get(d)!));
    for (const [reason, column] of this.reasons) this.reasons.set(reason, grow(column));
    this.capacity = capacity;
  }

  /** Rows requested in [fromMs, toMs) with every given dimension equal to its value. */
  select(fromMs: number, toMs: number, equal: Partial<Record<FactDimension, string>>): Uint32Array {
    if (Object.values(equal).every((v) => v === undefined) && this.covers(fromMs, toMs))
      return this.allRows();
    const tests: Array<[Uint16Array, number]> = [];
    for (const d of FACT_DIMENSIONS) {
      const value = equal[d];
      if (value === undefined) continue;
      const code = this.codeOf(d, value);
      if (code === undefined) return new Uint32Array(0);
      tests.push([this.dims.get(d)!, code]);
    }
    const requested = this.requestedMs;
    const out = new Uint32Array(this.size);
    let n = 0;
    rows: for (let row = 0; row < this.size; row++) {
      const at = requested[row];
      if (at < fromMs || at >= toMs) continue;
      for (let t = 0; t < tests.length; t++) if (tests[t][0][row] !== tests[t][1]) continue rows;
      out[n++] = row;
    }
    return out.subarray(0, n);
  }

  /**
   * Whether [fromMs, toMs) holds every row's request time. The bounds only widen (a row whose
   * request time moved leaves them wider than needed), so a yes is always right.
   */
  private covers(fromMs: number, toMs: number): boolean {
    return fromMs <= this.requestedBounds[0] && toMs > this.requestedBounds[1];
  }

  /** 0, 1, … size - 1, kept between queries (callers must not write to it). */
  private allRows(): Uint32Array {
    if (this.rowNumbers.length < this.size) {
      const next = new Uint32Array(this.capacity);
      next.set(this.rowNumbers);
      for (let row = this.rowNumbers.length; row < next.length; row++) next[row] = row;
      this.rowNumbers = next;
    }
    return this.rowNumbers.subarray(0, this.size);
  }

  /** The sorted orders of this version of the store (undefined past 2^24 rows). */
  sortedOrders(): SortedOrders | undefined {
    if (this.size >= ROW_BITS) return undefined;
    if (this.sorted?.version === this.version) return this.sorted;
    const previous = this.sorted;
    this.sorted =
      previous && this.dirty ? this.mergedOrders(previous, this.dirty) : this.builtOrders();
    this.dirty = new Map();
    return this.sorted;
  }

  /** Keys that would not fit beside the row number (durations over eight years): no orders. */
  private fits(row: number): boolean {
    const limit = 2 ** 28;
    return this.closeSec[row] < limit && this.endSec[row] < limit && this.acceptSec[row] < limit;
  }

  /** The Kaplan–Meier key of an ended row (duration × 2 + censored), -1 for an open one. */
  private endedKey(row: number): number {
    const flags = this.flags[row];
    if (flags & CLOSED) return this.closeSec[row] * 2;
    if (flags & ENDED) return this.endSec[row] * 2 + 1;
    return -1;
  }

  /** Latest request first; rows requested at the same moment by row number. */
  private readonly byRequestDescending = (a: number, b: number) =>
    this.requestedMs[b] - this.requestedMs[a] || a - b;

  private scratchMember(): Uint16Array {
    return this.sorted?.member.length === this.capacity
      ? this.sorted.member
      : new Uint16Array(this.capacity);
  }

  private builtOrders(): SortedOrders | undefined {
    this.fullSorts++;
    const ended: number[] = [];
    const open: number[] = [];
    const accepted: number[] = [];
    for (let row = 0; row < this.size; row++) {
      if (!this.fits(row)) return undefined;
      const key = this.endedKey(row);
      if (key >= 0) ended.push(key * ROW_BITS + row);
      else open.push(row);
      if (this.flags[row] & ACCEPTED) accepted.push(this.acceptSec[row] * ROW_BITS + row);
    }
    const rowsOf = (packed: Float64Array) => Uint32Array.from(packed, (v) => v % ROW_BITS);
    const endedSorted = new Float64Array(ended).sort();
    const openSorted = Uint32Array.from(open).sort(this.byRequestDescending);
    const acceptedSorted = new Float64Array(accepted).sort();
    return {
      version: this.version,
      ended: rowsOf(endedSorted),
      endedKeys: Uint32Array.from(endedSorted, (v) => Math.floor(v / ROW_BITS)),
      open: openSorted,
      openRequestedMs: Float64Array.from(openSorted, (row) => this.requestedMs[row]),
      accepted: rowsOf(acceptedSorted),
      acceptedKeys: Uint32Array.from(acceptedSorted, (v) => Math.floor(v / ROW_BITS)),
      member: this.scratchMember(),
    };
  }

  private orderKeys(row: number): OrderKeys {
    return {
      ended: this.endedKey(row),
      requestedMs: this.requestedMs[row],
      accept: this.flags[row] & ACCEPTED ? this.acceptSec[row] : -1,
    };
  }

  /**
   * The previous orders with each changed row taken out where it stood and put in where it
   * stands now: the same orders as a full sort, for the cost of copying them.
   */
  private mergedOrders(
    previous: SortedOrders,
    dirty: Map<number, OrderKeys | null>,
  ): SortedOrders | undefined {
    const removed = { ended: [] as Entry[], open: [] as Entry[], accepted: [] as Entry[] };
    const added = { ended: [] as Entry[], open: [] as Entry[], accepted: [] as Entry[] };
    const place = (into: typeof added, row: number, keys: OrderKeys) => {
      if (keys.ended >= 0) into.ended.push([keys.ended, row]);
      else into.open.push([keys.requestedMs, row]);
      if (keys.accept >= 0) into.accepted.push([keys.accept, row]);
    };
    for (const [row, was] of dirty) {
      if (!this.fits(row)) return undefined;
      if (was) place(removed, row, was);
      place(added, row, this.orderKeys(row));
    }
    const ended = spliceOrder(
      { rows: previous.ended, keys: previous.endedKeys },
      removed.ended,
      added.ended,
      false,
    );
    const open = spliceOrder(
      { rows: previous.open, keys: previous.openRequestedMs },
      removed.open,
      added.open,
      true,
    );
    const accepted = spliceOrder(
      { rows: previous.accepted, keys: previous.acceptedKeys },
      removed.accepted,
      added.accepted,
      false,
    );
    // A row not where its old keys say: rebuild rather than guess.
    if (!ended || !open || !accepted) return this.builtOrders();
    return {
      version: this.version,
      ended: ended.rows,
      endedKeys: ended.keys,
      open: open.rows,
      openRequestedMs: open.keys,
      accepted: accepted.rows,
      acceptedKeys: accepted.keys,
      member: this.scratchMember(),
    };
  }

  hasReasons = (row: number) => (this.flags[row] & HAS_REASONS) !== 0;
  isClosed = (row: number) => (this.flags[row] & CLOSED) !== 0;
  isEnded = (row: number) => (this.flags[row] & ENDED) !== 0;
  isAccepted = (row: number) => (this.flags[row] & ACCEPTED) !== 0;
  isRouted = (row: number) => (this.flags[row] & ROUTED) !== 0;
  awaitedConsent = (row: number) => (this.flags[row] & AWAITED_CONSENT) !== 0;
  isAwaitingConsent = (row: number) => (this.flags[row] & AWAITING_CONSENT) !== 0;
}
