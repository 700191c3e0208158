import { suppressCells, suppressCrossTab } from '../stats/suppression';
import { selectCohort } from './cross-suppression';
import { FactColumns } from './fact-columns';
import { aggregateAll, aggregateBy, breakdownOf, summaryOf, type ReferralFact } from './measures';

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

const T0 = new Date('2026-03-02T00:00:00Z');
const fact = (id: string, zip: string, language: string): ReferralFact => ({
  referralId: id,
  requestedAt: T0,
  routedAt: null,
  acceptedAt: null,
  completedAt: null,
  terminalState: null,
  terminalAt: null,
  currentState: 'requested',
  attempts: 0,
  reroutes: 0,
  awaitedConsent: false,
  breaches: 0,
  cbo: null,
  category: null,
  requester: null,
  race: null,
  ethnicity: null,
  language,
  zip,
  payer: null,
  ageBand: null,
  sex: null,
});

describe('complementary suppression', () => {
  it('hides more cells while the hidden ones add up to under 11', () => {
    const s = suppressCells([2, 3, 100, 200]).map((c) => c.reason ?? 'shown');
    expect(s).toEqual(['small-cell', 'small-cell', 'complementary', 'shown']);
  });

  it('in a two-way table every line that hides a cell hides two or more, adding up to 11 or more', () => {
    const random = lcg(3);
    for (let trial = 0; trial < 50; trial++) {
      const table = Array.from({ length: 5 }, () =>
        Array.from({ length: 4 }, () =>
          random() < 0.3 ? Math.floor(random() * 11) : Math.floor(random() * 60),
        ),
      );
      const grid = suppressCrossTab(table);
      const lines = [
        ...table.map((row, r) => row.map((_, k) => [r, k])),
        ...table[0].map((_, k) => table.map((_, r) => [r, k])),
      ];
      for (const line of lines) {
        const hidden = line.filter(([r, k]) => grid[r][k].suppressed);
        if (hidden.length === 0) continue;
        const sum = hidden.reduce((a, [r, k]) => a + table[r][k], 0);
        // A line whose shown cells are all 0 cannot do better; none here is all hidden-or-0.
        const movable = line.some(([r, k]) => !grid[r][k].suppressed && table[r][k] > 0);
        expect(
          hidden.length >= 2 && sum >= 11 ? 'protected' : movable ? 'exposed' : 'protected',
        ).toBe('protected');
      }
    }
  });

  it('hides the same cells whichever way the table is read', () => {
    const table = [
      [30, 4, 25],
      [12, 40, 6],
      [50, 15, 15],
    ];
    const key = (a: string, b: string) => `language=${a}|zip=${b}`;
    const zips = ['z1', 'z2', 'z3'];
    const languages = ['en', 'es', 'vi'];
    const byRows = suppressCrossTab(table, 11, (r, k) => key(languages[k], zips[r]));
    const transposed = languages.map((_, k) => zips.map((_, r) => table[r][k]));
    const byColumns = suppressCrossTab(transposed, 11, (r, k) => key(languages[r], zips[k]));
    for (let r = 0; r < 3; r++)
      for (let k = 0; k < 3; k++) expect(byRows[r][k].suppressed).toBe(byColumns[k][r].suppressed);
  });

  it('no small cell can be found by subtracting published cells from totals, across dimensions', () => {
    // A ZIP × language population with many small cells.
    const random = lcg(11);
    const zips = ['60601', '60602', '60603', '60604', '60605', '60606'];
    const languages = ['en', 'es', 'vi', 'so', 'zh'];
    const truth = new Map<string, number>();
    const facts: ReferralFact[] = [];
    for (const zip of zips)
      for (const language of languages) {
        const n = random() < 0.35 ? 1 + Math.floor(random() * 10) : Math.floor(random() * 80);
        truth.set(`${zip}|${language}`, n);
        for (let i = 0; i < n; i++) facts.push(fact(`${zip}-${language}-${i}`, zip, language));
      }
    const store = FactColumns.of(facts);
    const asOf = new Date(T0.getTime() + 1000);
    const selection = (equal: Record<string, string>) => ({
      fromMs: T0.getTime(),
      toMs: asOf.getTime(),
      equal,
    });
    // Everything a coordinator can ask about these two dimensions.
    const known = new Map<string, number>();
    const publish = (equal: Record<string, string>, by: 'zip' | 'language' | null) => {
      const { rows, hidden, forced } = selectCohort(store, selection(equal), by);
      const cell = (group: string) =>
        by === 'zip' ? `${group}|${equal.language ?? '*'}` : `${equal.zip ?? '*'}|${group}`;
      if (by === null) {
        const s = summaryOf(aggregateAll(store, rows, asOf), hidden);
        if (!s.suppressed) known.set(`${equal.zip ?? '*'}|${equal.language ?? '*'}`, s.referrals!);
        return;
      }
      const grouped = aggregateBy(store, rows, by, asOf);
      const table = breakdownOf(grouped, hidden ? new Set(grouped.map(([g]) => g)) : forced);
      for (const row of table) if (!row.suppressed) known.set(cell(row.group), row.referrals!);
    };
    publish({}, null);
    publish({}, 'zip');
    publish({}, 'language');
    for (const zip of zips) {
      publish({ zip }, null);
      publish({ zip }, 'language');
    }
    for (const language of languages) {
      publish({ language }, null);
      publish({ language }, 'zip');
    }
    for (const zip of zips) for (const language of languages) publish({ zip, language }, null);
    // Cells a published figure ever gave away directly.
    for (const [cell, n] of truth)
      if (n > 0 && n < 11) expect([cell, known.get(cell)]).toEqual([cell, undefined]);
    // The attacker: every margin is the sum of its cells; solve any equation with one unknown.
    const equations: Array<[string, string[]]> = [
      ['*|*', zips.map((z) => `${z}|*`)],
      ['*|*', languages.map((l) => `*|${l}`)],
      ...zips.map((z): [string, string[]] => [`${z}|*`, languages.map((l) => `${z}|${l}`)]),
      ...languages.map((l): [string, string[]] => [`*|${l}`, zips.map((z) => `${z}|${l}`)]),
    ];
    for (let changed = true; changed;) {
      changed = false;
      for (const [total, parts] of equations) {
        const unknown = [total, ...parts].filter((c) => !known.has(c));
        if (unknown.length !== 1) continue;
        const [u] = unknown;
        const sum = parts.filter((c) => c !== u).reduce((a, c) => a + known.get(c)!, 0);
        known.set(u, u === total ? sum : known.get(total)! - sum);
        changed = true;
      }
    }
    const recovered = [...truth].filter(([cell, n]) => n > 0 && n < 11 && known.has(cell));
    expect(recovered).toEqual([]);
    // And the published cells are right.
    for (const [cell, n] of truth) if (known.has(cell)) expect(known.get(cell)).toBe(n);
  });
});
