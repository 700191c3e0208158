import { kaplanMeier, kaplanMeierQuantile } from '../stats/survival';
import {
  aggregateGroups,
  aggregateWholeStore,
  groupRows,
  kaplanMeierSorted,
  sortUint32,
} from './aggregate';
import { FactColumns } from './fact-columns';
import type { ReferralFact } from './measures';

/** A small deterministic generator, so a failure can be replayed. */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

describe('columnar Kaplan–Meier', () => {
  it('radix-sorts like the native numeric sort', () => {
    const random = lcg(7);
    const keys = Uint32Array.from({ length: 20_000 }, () => Math.floor(random() * 2 ** 32));
    expect([...sortUint32(keys.slice())]).toEqual([...keys.slice().sort()]);
  });

  it.each([100, 10_000])('agrees with the object implementation (%i subjects, ties)', (n) => {
    const random = lcg(n);
    const observations = Array.from({ length: n }, () => ({
      time: Math.floor(random() * 500),
      event: random() < 0.6,
    }));
    const keys = Uint32Array.from(observations, (o) => o.time * 2 + (o.event ? 0 : 1));
    const steps = kaplanMeier(observations);
    expect(kaplanMeierSorted(sortUint32(keys))).toEqual({
      median: kaplanMeierQuantile(steps, 0.5),
      p90: kaplanMeierQuantile(steps, 0.9),
    });
  });
});

describe('time to close and to accept from the store’s sorted orders', () => {
  const T0 = Date.parse('2026-01-01T00:00:00Z');
  const HOUR = 3_600_000;
  /** Random referrals: closed, ended without closing, and open; durations on a coarse grid (ties). */
  function randomStore(n: number, seed: number) {
    const random = lcg(seed);
    return FactColumns.of(Array.from({ length: n }, (_, i) => randomFact(`r${i}`, random)));
  }

  function randomFact(referralId: string, random: () => number): ReferralFact {
    const pick = <T>(values: readonly T[]) => values[Math.floor(random() * values.length)];
    {
      const requestedAt = new Date(
        T0 + Math.floor(random() * 90 * 24) * HOUR + Math.floor(random() * 4) * 250,
      );
      const after = (hours: number) => new Date(requestedAt.getTime() + hours * HOUR);
      const u = random();
      const accepted = u < 0.8 ? after(Math.floor(random() * 40) / 4) : null;
      const closed = u < 0.55 ? after(1 + Math.floor(random() * 200) / 2) : null;
      const ended = closed ?? (u < 0.7 ? after(Math.floor(random() * 100)) : null);
      return {
        referralId,
        requestedAt,
        routedAt: after(0.1),
        acceptedAt: accepted,
        completedAt: closed,
        terminalState: closed ? 'completed' : ended ? 'cancelled' : null,
        terminalAt: ended,
        currentState: closed ? 'completed' : ended ? 'cancelled' : 'accepted',
        attempts: 1,
        reroutes: 0,
        awaitedConsent: false,
        breaches: 0,
        cbo: pick(['a', 'b', 'c']),
        category: pick(['food', 'housing']),
        requester: 'h',
        race: pick(['r1', 'r2', 'r3', 'r4']),
        ethnicity: null,
        language: pick(['en', 'es', 'vi', 'so', 'zh']),
        zip: null,
        payer: null,
        ageBand: null,
        sex: pick(['female', 'male']),
      };
    }
  }

  it.each([
    [2_000, 1],
    [30_000, 2],
  ])('gives the figures of the per-cohort sort (%i referrals, seed %i)', (n, seed) => {
    const store = randomStore(n, seed);
    const asOf = T0 + 100 * 24 * HOUR + 777;
    const cohorts: Array<[string, Uint32Array, 'language' | 'race' | null]> = [
      ['all', store.select(0, Infinity, {}), null],
      ['by language', store.select(0, Infinity, {}), 'language'],
      ['a period, by race', store.select(T0 + 10 * 24 * HOUR, T0 + 50 * 24 * HOUR, {}), 'race'],
      ['filtered, by language', store.select(0, Infinity, { cbo: 'b', sex: 'female' }), 'language'],
    ];
    for (const [, rows, by] of cohorts) {
      const grouping = groupRows(store, rows, by);
      const streamed = aggregateGroups(store, rows, grouping, asOf, { streaming: true });
      const sorted = aggregateGroups(store, rows, grouping, asOf, { streaming: false });
      expect([...streamed]).toEqual([...sorted]);
      expect(sorted.size).toBeGreaterThan(0);
    }
  });

  it('keeps its sorted orders up to date by merging changed rows in, as a full sort orders them', () => {
    for (const seed of [5, 6, 7]) {
      const merged = randomStore(20_000, seed);
      merged.sortedOrders();
      const random = lcg(seed * 31);
      const log: ReferralFact[] = [];
      // Rounds of changes: existing rows closed, reopened or moved in time, and new rows.
      for (let round = 0; round < 3; round++) {
        for (let c = 0; c < 700; c++) {
          const id =
            random() < 0.8
              ? `r${Math.floor(random() * 20_000)}`
              : `new-${round}-${Math.floor(random() * 300)}`;
          const change = randomFact(id, random);
          log.push(change);
          merged.upsert({ fact: change, reasons: [] });
        }
        // The same rows in the same order, with orders sorted from scratch.
        const sorted = randomStore(20_000, seed);
        for (const change of log) sorted.upsert({ fact: change, reasons: [] });
        const a = merged.sortedOrders()!;
        const b = sorted.sortedOrders()!;
        for (const key of [
          'ended',
          'endedKeys',
          'open',
          'openRequestedMs',
          'accepted',
          'acceptedKeys',
        ] as const)
          expect([...a[key]]).toEqual([...b[key]]);
        expect(a.ended.length + a.open.length).toBe(merged.size);
      }
      // Sorted once, then merged every round.
      expect(merged.fullSorts).toBe(1);
    }
  });

  it('gives the row-level Kaplan–Meier of each group', () => {
    const store = randomStore(5_000, 3);
    const asOf = T0 + 95 * 24 * HOUR;
    const rows = store.select(0, Infinity, {});
    const grouping = groupRows(store, rows, 'language');
    const streamed = aggregateGroups(store, rows, grouping, asOf, { streaming: true });
    grouping.names.forEach((name, k) => {
      const observations = [...rows]
        .filter((_, i) => grouping.codes[i] === k)
        .map((row) => {
          const requested = store.requestedMs[row];
          if (store.isClosed(row)) return { time: store.closeSec[row], event: true };
          if (store.isEnded(row)) return { time: store.endSec[row], event: false };
          return { time: Math.max(0, Math.round((asOf - requested) / 1000)), event: false };
        });
      const steps = kaplanMeier(observations);
      const toHours = (s: number | null) =>
        s === null ? null : Math.round((s / 3600) * 1e4) / 1e4;
      expect(streamed.get(name)!.timeToClose).toMatchObject({
        medianHours: toHours(kaplanMeierQuantile(steps, 0.5)),
        p90Hours: toHours(kaplanMeierQuantile(steps, 0.9)),
      });
    });
  });

  it('answers a cohort of the whole store from its cache and one walk, as the row-level path does', () => {
    const store = randomStore(60_000, 4);
    const rows = store.select(0, Infinity, {});
    // Two moments: what is kept between answers must not depend on the time of asking.
    for (const asOf of [T0 + 95 * 24 * HOUR, T0 + 96 * 24 * HOUR + 1234]) {
      for (const by of [null, 'language', 'race'] as const) {
        const whole = aggregateWholeStore(store, by, asOf)!;
        const rowLevel = aggregateGroups(store, rows, groupRows(store, rows, by), asOf, {
          streaming: false,
        });
        expect([...whole]).toEqual([...rowLevel]);
      }
    }
    // A changed row is seen by the next answer.
    store.upsert({
      reasons: ['no-capacity'],
      fact: {
        ...{ referralId: 'r1', requestedAt: new Date(T0), routedAt: null, acceptedAt: null },
        ...{ completedAt: null, terminalState: null, terminalAt: null, currentState: 'requested' },
        ...{ attempts: 1, reroutes: 0, awaitedConsent: false, breaches: 0, cbo: 'a' },
        ...{ category: 'food', requester: 'h', race: 'r9', ethnicity: null, language: 'xx' },
        ...{ zip: null, payer: null, ageBand: null, sex: 'male' },
      },
    });
    const asOf = T0 + 97 * 24 * HOUR;
    const all = store.select(0, Infinity, {});
    expect([...aggregateWholeStore(store, 'language', asOf)!]).toEqual([
      ...aggregateGroups(store, all, groupRows(store, all, 'language'), asOf, { streaming: false }),
    ]);
    expect(aggregateWholeStore(store, 'language', asOf)!.get('xx')!.referrals).toBe(1);
  });
});
