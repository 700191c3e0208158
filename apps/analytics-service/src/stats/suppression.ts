/** Cells of fewer than this many referrals are not shown (CMS cell-size rule). */
export const MIN_CELL_SIZE = 11;

export type SuppressionReason = 'small-cell' | 'complementary';

export interface CellSuppression {
  suppressed: boolean;
  reason?: SuppressionReason;
}

/**
 * Which cells of one table (a partition of a published total) to hide. Primary: 1 to 10 (a 0
 * identifies no one and is shown). Complementary: while a table hides exactly one cell, or hides
 * cells that add up to fewer than 11, it hides the smallest shown non-zero cell too, so that the
 * total minus the shown cells recovers neither a hidden cell nor a small sum of them. `forced`
 * cells are hidden as complementary from the start (hidden in another view of the same cells).
 */
export function suppressCells(
  counts: readonly number[],
  min = MIN_CELL_SIZE,
  forced: ReadonlySet<number> = new Set(),
): CellSuppression[] {
  // One line: the table itself.
  const [line] = suppressCrossTab(
    [counts],
    min,
    (_, k) => String(k).padStart(10, '0'),
    new Set([...forced].map((k) => `0,${k}`)),
    { columns: false },
  );
  return line ?? [];
}

/**
 * Complementary suppression of a two-way table (rows × columns) whose rows and columns are
 * also published as one-way tables (a breakdown by one dimension filtered on a value of the
 * other): every row and every column that hides a cell hides at least two, adding up to at least
 * `min`, so that no line's total minus its shown cells recovers a hidden one. Each round adds, to
 * every line that needs it, its smallest shown non-zero cell, all at once; ties are broken by
 * `keyOf(row, column)`, so the transposed table (the same cells seen from the other dimension)
 * hides exactly the same cells when the caller keys cells by their values, not their positions.
 */
export function suppressCrossTab(
  counts: readonly (readonly number[])[],
  min = MIN_CELL_SIZE,
  keyOf: (row: number, column: number) => string = (r, c) => `${r},${c}`,
  forced: ReadonlySet<string> = new Set(),
  lines: { columns: boolean } = { columns: true },
): CellSuppression[][] {
  const rows = counts.length;
  const columns = rows === 0 ? 0 : counts[0].length;
  const total = counts.reduce((sum, row) => sum + row.reduce((a, b) => a + b, 0), 0);
  if (total > 0 && total < min)
    return counts.map((row) => row.map(() => ({ suppressed: true, reason: 'small-cell' })));
  const out: CellSuppression[][] = counts.map((row, r) =>
    row.map((c, k) =>
      c > 0 && c < min
        ? { suppressed: true, reason: 'small-cell' }
        : forced.has(`${r},${k}`)
          ? { suppressed: true, reason: 'complementary' }
          : { suppressed: false },
    ),
  );
  const allLines: Array<Array<[number, number]>> = [
    ...Array.from({ length: rows }, (_, r) =>
      Array.from({ length: columns }, (_, k): [number, number] => [r, k]),
    ),
    ...(lines.columns
      ? Array.from({ length: columns }, (_, k) =>
          Array.from({ length: rows }, (_, r): [number, number] => [r, k]),
        )
      : []),
  ];
  for (let round = 0; round < rows * columns + 1; round++) {
    const add = new Map<string, [number, number]>();
    for (const line of allLines) {
      const hidden = line.filter(([r, k]) => out[r][k].suppressed);
      if (hidden.length === 0) continue;
      const hiddenSum = hidden.reduce((sum, [r, k]) => sum + counts[r][k], 0);
      if (hidden.length >= 2 && hiddenSum >= min) continue;
      const candidate = line
        .filter(([r, k]) => !out[r][k].suppressed && counts[r][k] > 0)
        .sort(
          ([r1, k1], [r2, k2]) =>
            counts[r1][k1] - counts[r2][k2] || keyOf(r1, k1).localeCompare(keyOf(r2, k2)),
        )[0];
      if (candidate) add.set(`${candidate[0]},${candidate[1]}`, candidate);
    }
    if (add.size === 0) break;
    for (const [r, k] of add.values()) out[r][k] = { suppressed: true, reason: 'complementary' };
  }
  return out;
}
