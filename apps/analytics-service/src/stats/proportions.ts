import { normalCdf, Z_95 } from './normal';

export interface Interval {
  lower: number;
  upper: number;
}

/**
 * Wilson score interval for x successes in n trials. Unlike the Wald interval it stays inside
 * [0, 1] and keeps close to its nominal coverage for small n and for rates near 0 or 1, which
 * is what small equity groups look like. null when n = 0.
 */
export function wilsonInterval(x: number, n: number, z = Z_95): Interval | null {
  checkCounts(x, n);
  if (n === 0) return null;
  const p = x / n;
  const z2 = z * z;
  const denominator = n + z2;
  const center = (x + z2 / 2) / denominator;
  const half = (z * Math.sqrt(n * p * (1 - p) + z2 / 4)) / denominator;
  return { lower: Math.max(0, center - half), upper: Math.min(1, center + half) };
}

export interface DifferenceInterval extends Interval {
  difference: number;
}

/**
 * Newcombe's hybrid score interval (method 10 of Newcombe 1998) for p1 − p2, built from the two
 * Wilson intervals. Good coverage for small groups and extreme rates, and no continuity fudge.
 */
export function newcombeInterval(
  x1: number,
  n1: number,
  x2: number,
  n2: number,
  z = Z_95,
): DifferenceInterval | null {
  const w1 = wilsonInterval(x1, n1, z);
  const w2 = wilsonInterval(x2, n2, z);
  if (!w1 || !w2) return null;
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const difference = p1 - p2;
  return {
    difference,
    lower: difference - Math.sqrt((p1 - w1.lower) ** 2 + (w2.upper - p2) ** 2),
    upper: difference + Math.sqrt((w1.upper - p1) ** 2 + (p2 - w2.lower) ** 2),
  };
}

/**
 * The two-sided p-value that goes with Newcombe's interval: the smallest α at which the (1 − α)
 * interval no longer contains 0 (found by bisection on z). So "the 95% interval excludes 0" and
 * "p < 0.05" always agree, and the p-values can be fed to a false-discovery-rate procedure.
 */
export function newcombePValue(x1: number, n1: number, x2: number, n2: number): number | null {
  const at = newcombeInterval(x1, n1, x2, n2, 1e-9);
  if (!at) return null;
  if (at.difference === 0) return 1;
  const excludesZero = (z: number) => {
    const interval = newcombeInterval(x1, n1, x2, n2, z)!;
    return interval.lower > 0 || interval.upper < 0;
  };
  let low = 0;
  let high = 40;
  if (excludesZero(high)) return 0;
  for (let i = 0; i < 200 && high - low > 1e-10; i++) {
    const mid = (low + high) / 2;
    if (excludesZero(mid)) low = mid;
    else high = mid;
  }
  return 2 * (1 - normalCdf((low + high) / 2));
}

function checkCounts(x: number, n: number): void {
  if (!Number.isInteger(x) || !Number.isInteger(n) || x < 0 || n < 0 || x > n)
    throw new RangeError('counts must be whole numbers with 0 ≤ x ≤ n');
}
