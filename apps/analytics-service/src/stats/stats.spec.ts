import { benjaminiHochberg } from './multiple-testing';
import { normalCdf, normalQuantile, Z_95 } from './normal';
import { newcombeInterval, newcombePValue, wilsonInterval } from './proportions';
import { suppressCells } from './suppression';
import { kaplanMeier, quantile, timeToEvent } from './survival';

describe('normal distribution', () => {
  it('has the textbook values', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(Z_95)).toBeCloseTo(0.975, 6);
    expect(normalCdf(-1)).toBeCloseTo(0.158655, 6);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(normalQuantile(0.5)).toBeCloseTo(0, 7);
  });
});

describe('Wilson interval', () => {
  it('8 of 10, computed by hand', () => {
    // z² = 3.841459; n + z² = 13.841459; centre = (8 + 1.920730) / 13.841459 = 0.716743;
    // half-width = 1.959964 · √(10·0.8·0.2 + 0.960365) / 13.841459 = 0.226578.
    const w = wilsonInterval(8, 10)!;
    expect(w.lower).toBeCloseTo(0.716743 - 0.226578, 5);
    expect(w.upper).toBeCloseTo(0.716743 + 0.226578, 5);
  });
  it('stays inside [0, 1] at the edges and has no interval for n = 0', () => {
    const zero = wilsonInterval(0, 12)!;
    expect(zero.lower).toBe(0);
    // upper = z² / (n + z²) when x = 0: 3.841459 / 15.841459
    expect(zero.upper).toBeCloseTo(3.841459 / 15.841459, 6);
    expect(wilsonInterval(0, 0)).toBeNull();
    expect(() => wilsonInterval(3, 2)).toThrow(RangeError);
  });
});

describe("Newcombe's hybrid score interval", () => {
  // Newcombe (1998), Statistics in Medicine 17:873, Table II, method 10.
  it.each([
    [56, 70, 48, 80, 0.2, 0.0524, 0.3339],
    [9, 10, 3, 10, 0.6, 0.1705, 0.809],
    [5, 56, 0, 29, 5 / 56, -0.0381, 0.1926],
  ])('%i/%i − %i/%i', (x1, n1, x2, n2, difference, lower, upper) => {
    const d = newcombeInterval(x1, n1, x2, n2)!;
    expect(d.difference).toBeCloseTo(difference, 10);
    expect(d.lower).toBeCloseTo(lower, 4);
    expect(d.upper).toBeCloseTo(upper, 4);
  });

  it('its p-value agrees with the interval: p < 0.05 exactly when 0 is outside', () => {
    const p1 = newcombePValue(56, 70, 48, 80)!; // interval excludes 0
    const p2 = newcombePValue(5, 56, 0, 29)!; // interval contains 0
    expect(p1).toBeLessThan(0.05);
    expect(p2).toBeGreaterThan(0.05);
    // At the interval of level 1 − p, the bound touches 0.
    const atP = newcombeInterval(56, 70, 48, 80, normalQuantile(1 - p1 / 2))!;
    expect(atP.lower).toBeCloseTo(0, 6);
    expect(newcombePValue(10, 20, 15, 30)).toBe(1); // equal rates
  });
});

describe('Benjamini–Hochberg', () => {
  it('adjusts by hand-computed ranks, monotone, in the input order', () => {
    // sorted 0.005, 0.01, 0.03, 0.04 (m = 4): ×4/1, ×4/2, ×4/3, ×4/4 = 0.02, 0.02, 0.04, 0.04
    const q = benjaminiHochberg([0.01, 0.04, 0.03, 0.005]);
    [0.02, 0.04, 0.04, 0.02].forEach((expected, i) => expect(q[i]).toBeCloseTo(expected, 12));
    // 0.04 × 2/1 = 0.08 would exceed the next rank's 0.05: the step-up keeps 0.05.
    const r = benjaminiHochberg([0.04, 0.05]);
    expect(r[0]).toBeCloseTo(0.05, 12);
    expect(r[1]).toBeCloseTo(0.05, 12);
    expect(benjaminiHochberg([null, 0.2])).toEqual([null, 0.2]);
  });
});

describe('Kaplan–Meier', () => {
  const data = [
    { time: 1, event: true },
    { time: 2, event: false },
    { time: 3, event: true },
    { time: 3, event: true },
    { time: 4, event: false },
    { time: 5, event: true },
    { time: 6, event: false },
  ];
  it('product-limit steps by hand', () => {
    // t=1: 1 of 7 → 6/7; t=3: 2 of 5 → 6/7 · 3/5 = 18/35; t=5: 1 of 2 → 9/35.
    const steps = kaplanMeier(data);
    expect(steps.map((s) => [s.time, s.atRisk, s.events])).toEqual([
      [1, 7, 1],
      [3, 5, 2],
      [5, 2, 1],
    ]);
    expect(steps[0].survival).toBeCloseTo(6 / 7, 12);
    expect(steps[1].survival).toBeCloseTo(18 / 35, 12);
    expect(steps[2].survival).toBeCloseTo(9 / 35, 12);
  });
  it('median where S ≤ 0.5 first, p90 not reached, censored counted', () => {
    expect(timeToEvent(data)).toEqual({ events: 4, censored: 3, median: 5, p90: null });
  });
  it('without censoring equals the empirical quantile', () => {
    const times = [4, 1, 9, 2, 7, 3, 8, 5, 6, 10];
    const summary = timeToEvent(times.map((time) => ({ time, event: true })));
    expect(summary.median).toBe(5);
    expect(summary.p90).toBe(9);
    expect(quantile(times, 0.5)).toBe(5);
    expect(quantile(times, 0.9)).toBe(9);
    expect(quantile([5, 1, 4, 2, 3], 0.5)).toBe(3);
    expect(quantile([], 0.5)).toBeNull();
  });
});

describe('small-cell suppression', () => {
  const hidden = (counts: number[]) =>
    suppressCells(counts).map((c) => (c.suppressed ? c.reason : 'shown'));
  it('hides 1 to 10, shows 0 and 11', () => {
    expect(hidden([0, 11, 10, 1, 40])).toEqual([
      'shown',
      'shown',
      'small-cell',
      'small-cell',
      'shown',
    ]);
  });
  it('a lone hidden cell takes the next smallest with it, so total − shown does not reveal it', () => {
    expect(hidden([50, 5, 30])).toEqual(['shown', 'small-cell', 'complementary']);
    // A hidden 0 would protect nothing: the smallest non-zero cell goes instead.
    expect(hidden([5, 0, 40])).toEqual(['small-cell', 'shown', 'complementary']);
  });
  it('a table whose total is under 11 is hidden whole', () => {
    expect(hidden([3, 4])).toEqual(['small-cell', 'small-cell']);
  });
  it('no shown cell and total allow recovering a hidden one', () => {
    for (const counts of [
      [50, 5, 30],
      [12, 3, 7, 90],
      [1, 200],
      [11, 11, 2],
    ]) {
      const s = suppressCells(counts);
      const hiddenCells = s.filter((c) => c.suppressed).length;
      expect(hiddenCells === 0 || hiddenCells >= 2).toBe(true);
    }
  });
});
