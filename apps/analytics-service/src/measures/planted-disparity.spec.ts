import type { GroupAggregate } from './aggregate';
import { equityOf } from './measures';

/**
 * Repeated seeded simulations of the equity table's decision: a planted gap in closure is flagged,
 * groups without one are flagged about as often as the chosen level (5%) allows, no more.
 */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

const binomial = (random: () => number, n: number, p: number) => {
  let x = 0;
  for (let i = 0; i < n; i++) if (random() < p) x++;
  return x;
};

function group(referrals: number, closed: number): GroupAggregate {
  return {
    referrals,
    routed: referrals,
    accepted: closed,
    closed,
    awaitingConsent: 0,
    everAwaitedConsent: 0,
    reroutes: 0,
    referralsRerouted: 0,
    breaches: 0,
    referralsBreached: 0,
    attempts: referrals,
    reasons: new Map(),
    timeToAccept: { accepted: closed, medianHours: null, p90Hours: null },
    timeToClose: { closed, censored: referrals - closed, medianHours: null, p90Hours: null },
  };
}

/** P(X ≥ k) for X ~ Binomial(n, p), summed exactly. */
function upperTail(n: number, p: number, k: number): number {
  let logCoefficient = 0;
  let tail = 0;
  for (let x = 0; x <= n; x++) {
    if (x > 0) logCoefficient += Math.log((n - x + 1) / x);
    if (x >= k) tail += Math.exp(logCoefficient + x * Math.log(p) + (n - x) * Math.log(1 - p));
  }
  return tail;
}

const SIMULATIONS = 200;
const ALPHA = 0.05;
// Reference (en) closes 60%; es is planted at 45%; the others close like the reference.
const SIZES: Array<[string, number]> = [
  ['en', 400],
  ['es', 300],
  ['vi', 150],
  ['so', 200],
  ['zh', 120],
];

function simulate(seed: number, planted: boolean) {
  const random = lcg(seed);
  const grouped = SIZES.map(([name, n]): [string, GroupAggregate] => {
    const p = planted && name === 'es' ? 0.45 : 0.6;
    return [name, group(n, binomial(random, n, p))];
  }).sort((a, b) => a[0].localeCompare(b[0]));
  const table = equityOf(grouped, 'language', { alpha: ALPHA });
  expect(table.reference).toBe('en');
  return new Map(table.rows.map((r) => [r.group, r.flagged]));
}

describe('planted disparity over repeated seeded simulations', () => {
  it('flags the planted gap in nearly every simulation', () => {
    let flagged = 0;
    for (let s = 1; s <= SIMULATIONS; s++) if (simulate(s, true).get('es')) flagged++;
    // A 15-point gap between 300 and 400 referrals: power about 0.99 before the FDR step.
    expect(flagged / SIMULATIONS).toBeGreaterThanOrEqual(0.9);
  });

  it('flags groups without a gap at no more than the chosen level allows', () => {
    // With no gap anywhere, Benjamini–Hochberg keeps the chance of any flag at or below 5%.
    let anyFlag = 0;
    for (let s = 1001; s <= 1000 + SIMULATIONS; s++)
      if ([...simulate(s, false).values()].some(Boolean)) anyFlag++;
    // More than this happens with probability under 0.1% if the true rate were 5%.
    let bound = 0;
    while (upperTail(SIMULATIONS, ALPHA, bound + 1) >= 0.001) bound++;
    expect(bound).toBeGreaterThan(10);
    expect(bound).toBeLessThan(25);
    expect(anyFlag).toBeLessThanOrEqual(bound);
    // Not blind either: some false flags happen, as they must at a 5% level.
    expect(anyFlag).toBeGreaterThan(0);

    // With the gap planted, the groups without one are still rarely flagged.
    let nullFlags = 0;
    for (let s = 1; s <= SIMULATIONS; s++) {
      const flags = simulate(s, true);
      for (const name of ['vi', 'so', 'zh']) if (flags.get(name)) nullFlags++;
    }
    let nullBound = 0;
    while (upperTail(3 * SIMULATIONS, ALPHA, nullBound + 1) >= 0.001) nullBound++;
    expect(nullFlags).toBeLessThanOrEqual(nullBound);
  });
});
