import type { DirectoryServiceFacts } from '../ingest/directory-facts';
import { suppressCells } from '../stats/suppression';
import type { FactColumns } from './fact-columns';

/** Reasons that say the network lacks a service, not that the patient or the CBO failed. */
export const UNMET_REASONS = {
  noCapacity: 'no-capacity',
  notEligible: 'not-eligible',
  outOfArea: 'out-of-area',
  noCbo: 'no-match',
} as const;
type UnmetKey = keyof typeof UNMET_REASONS;
const KEYS = Object.keys(UNMET_REASONS) as UnmetKey[];

export interface UnmetNeedRow {
  category: string;
  zip: string;
  suppressed: boolean;
  referrals: number | null;
  /** Referrals with at least one attempt ended for no capacity. */
  noCapacity: number | null;
  notEligible: number | null;
  outOfArea: number | null;
  /** Referrals for which no CBO could be found (no match, or none left to try). */
  noCbo: number | null;
  /** Referrals with any of the above. */
  unmet: number | null;
  unmetRate: number | null;
  /** The directory now: active services of the category whose ZIP list covers the ZIP. */
  directoryServices: number;
  directoryServicesWithCapacity: number;
  directoryAvailableUnits: number | null;
}

/**
 * Referrals turned away for want of a service, by category and ZIP of the patient, beside what
 * the directory offers there. Counts of 1 to 10 are hidden, each column with its complement.
 * Services whose area is a radius are not placed in a ZIP (counted in `otherAreas` only).
 */
export function unmetNeed(
  store: FactColumns,
  rows: Uint32Array,
  directory: readonly DirectoryServiceFacts[],
  hidden = false,
): UnmetNeedRow[] {
  const category = store.dims.get('category')!;
  const zip = store.dims.get('zip')!;
  const reasonColumns = KEYS.map((k) => store.reasons.get(UNMET_REASONS[k]));
  const cells = new Map<number, { n: number; counts: number[]; unmet: number }>();
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    const key = category[row] * 65536 + zip[row];
    let cell = cells.get(key);
    if (!cell) cells.set(key, (cell = { n: 0, counts: KEYS.map(() => 0), unmet: 0 }));
    cell.n++;
    let any = false;
    reasonColumns.forEach((column, k) => {
      if (column && column[row] > 0) {
        cell!.counts[k]++;
        any = true;
      }
    });
    if (any) cell.unmet++;
  }
  const categories = store.dictionary('category');
  const zips = store.dictionary('zip');
  const entries = [...cells.entries()]
    .map(([key, cell]) => ({
      category: categories[Math.floor(key / 65536)],
      zip: zips[key % 65536],
      ...cell,
    }))
    .sort((a, b) => a.category.localeCompare(b.category) || a.zip.localeCompare(b.zip));
  const byRow = suppressCells(entries.map((e) => e.n));
  const byColumn = [
    ...KEYS.map((_, k) => entries.map((e) => e.counts[k])),
    entries.map((e) => e.unmet),
  ].map((column) => suppressCells(column));
  return entries.map((e, i) => {
    const rowHidden = hidden || byRow[i].suppressed;
    const shown = (column: number, value: number) =>
      rowHidden || byColumn[column][i].suppressed ? null : value;
    const services = directory.filter(
      (d) => d.active && d.categories.includes(e.category) && d.postalCodes.includes(e.zip),
    );
    const units = services.filter((d) => d.available !== null);
    const unmet = shown(KEYS.length, e.unmet);
    return {
      category: e.category,
      zip: e.zip,
      suppressed: rowHidden,
      referrals: rowHidden ? null : e.n,
      noCapacity: shown(0, e.counts[0]),
      notEligible: shown(1, e.counts[1]),
      outOfArea: shown(2, e.counts[2]),
      noCbo: shown(3, e.counts[3]),
      unmet,
      unmetRate: unmet === null ? null : Math.round((unmet / e.n) * 1e6) / 1e6,
      directoryServices: services.length,
      directoryServicesWithCapacity: services.filter((d) => d.capacityStatus === 'available')
        .length,
      directoryAvailableUnits: units.length
        ? units.reduce((sum, d) => sum + d.available!, 0)
        : null,
    };
  });
}
