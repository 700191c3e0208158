/** Cells of fewer than this many referrals are not shown (CMS cell-size rule). */
export const MIN_CELL_SIZE = 11;

export type SuppressionReason = 'small-cell' | 'complementary';

export interface CellSuppression {
  suppressed: boolean;
  reason?: SuppressionReason;
}

/**
 * Which cells of one table (a partition of a published total) to hide. Primary: 1 to 10
 * (a 0 identifies no one and is shown). Complementary: a table that would hide exactly one cell
 * hides the next smallest one too, so that the hidden cell cannot be recovered as the total minus
 * the shown cells; with a total of fewer than 11 everything is hidden.
 */
export function suppressCells(counts: readonly number[], min = MIN_CELL_SIZE): CellSuppression[] {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total > 0 && total < min) {
    return counts.map(() => ({ suppressed: true, reason: 'small-cell' }));
  }
  const result: CellSuppression[] = counts.map((c) =>
    c > 0 && c < min ? { suppressed: true, reason: 'small-cell' } : { suppressed: false },
  );
  const hidden = result.filter((r) => r.suppressed).length;
  if (hidden === 1) {
    // The smallest shown cell, preferring one that is not 0 (a hidden 0 protects nothing).
    const candidates = counts
      .map((count, index) => ({ count, index }))
      .filter(({ index }) => !result[index].suppressed)
      .sort((a, b) => (a.count === 0 ? 1 : 0) - (b.count === 0 ? 1 : 0) || a.count - b.count);
    if (candidates.length > 0)
      result[candidates[0].index] = { suppressed: true, reason: 'complementary' };
  }
  return result;
}
