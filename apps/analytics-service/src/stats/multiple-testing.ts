/**
 * Benjamini–Hochberg adjusted p-values (q-values) in the input's order: rejecting every
 * hypothesis with q ≤ α keeps the expected share of false discoveries among the flagged groups at
 * or below α (independent or positively dependent tests). Chosen over Bonferroni because an
 * equity table compares many groups at once, and a family-wise bound would hide real gaps.
 * null p-values stay null and do not count as tests.
 */
export function benjaminiHochberg(pValues: ReadonlyArray<number | null>): Array<number | null> {
  const tested = pValues
    .map((p, index) => ({ p, index }))
    .filter((t): t is { p: number; index: number } => t.p !== null);
  const m = tested.length;
  const sorted = [...tested].sort((a, b) => a.p - b.p);
  const adjusted: Array<number | null> = pValues.map(() => null);
  let running = 1;
  for (let rank = m; rank >= 1; rank--) {
    const { p, index } = sorted[rank - 1];
    running = Math.min(running, (p * m) / rank);
    adjusted[index] = running;
  }
  return adjusted;
}
