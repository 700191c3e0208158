import { suppressCells, suppressCrossTab } from '../stats/suppression';
import { groupRows } from './aggregate';
import type { BreakdownDimension } from './dimensions';
import type { FactColumns, FactDimension } from './fact-columns';

export interface CohortSelection {
  fromMs: number;
  toMs: number;
  equal: Partial<Record<FactDimension, string>>;
}

export interface CrossSuppression {
  /** The cohort itself is a hidden cell of a wider table: show nothing of it. */
  cohortHidden: boolean;
  /** Groups of the table that another view of the same cells hides. */
  forced: Set<string>;
}

/**
 * Suppression across the views a coordinator can combine. A filtered cohort (language = vi) is a
 * cell of the one-way table over that filter's dimension (by language, other filters kept): if
 * that table hides it, so does every answer about it. A filtered table (by zip, language = vi)
 * is a column of the two-way table zip × language, whose rows are published too (by language,
 * zip = Z): the two-way suppression, the same whichever way it is read, decides which of its
 * cells are hidden, so that neither a row nor a column can be subtracted to find one.
 */
export function crossSuppression(
  store: FactColumns,
  selection: CohortSelection,
  by: BreakdownDimension | null,
): CrossSuppression {
  const forced = new Set<string>();
  let cohortHidden = false;
  for (const [f, value] of Object.entries(selection.equal) as Array<[FactDimension, string]>) {
    if (value === undefined) continue;
    const { [f]: _, ...others } = selection.equal;
    const parent = store.select(selection.fromMs, selection.toMs, others);
    const values = store.dictionary(f);
    const column = store.dims.get(f)!;
    const target = store.codeOf(f, value);
    if (target === undefined) continue;
    // The one-way table over f.
    const perValue = new Array<number>(values.length).fill(0);
    for (let i = 0; i < parent.length; i++) perValue[column[parent[i]]]++;
    const present = perValue.flatMap((n, code) => (n > 0 ? [code] : []));
    const oneWay = suppressCells(present.map((code) => perValue[code]));
    if (oneWay[present.indexOf(target)]?.suppressed) cohortHidden = true;
    if (by === null || by === f) continue;
    // The two-way table by × f.
    const grouping = groupRows(store, parent, by);
    const counts = grouping.names.map(() => new Array<number>(present.length).fill(0));
    const position = new Map(present.map((code, k) => [code, k]));
    for (let i = 0; i < parent.length; i++)
      counts[grouping.codes[i]][position.get(column[parent[i]])!]++;
    const used = grouping.names.flatMap((_, r) => (counts[r].some((n) => n > 0) ? [r] : []));
    const table = used.map((r) => counts[r]);
    // Keyed by the cells' values in a fixed order of the dimensions: the transposed view, by f
    // filtered on a group, breaks ties the same way.
    const keyOf = (r: number, k: number) => {
      const a = `${by}=${grouping.names[used[r]]}`;
      const b = `${f}=${values[present[k]]}`;
      return by < f ? `${a}|${b}` : `${b}|${a}`;
    };
    const grid = suppressCrossTab(table, undefined, keyOf);
    const k = position.get(target)!;
    used.forEach((r, i) => {
      if (grid[i][k].suppressed) forced.add(grouping.names[r]);
    });
  }
  return { cohortHidden, forced };
}

/** The cohort of a selection, grouped by a dimension or a period (or not), with its suppression. */
export function selectCohort(
  store: FactColumns,
  selection: CohortSelection,
  by: BreakdownDimension | null,
) {
  const rows = store.select(selection.fromMs, selection.toMs, selection.equal);
  const { cohortHidden, forced } = crossSuppression(store, selection, by);
  return { rows, hidden: cohortHidden, forced };
}
