import type { SearchIndexRow } from './search-index';
import type { ComponentFilter, CompositeFilter } from './search-composite';
import type { PlainFilter, SearchFilter, TokenSearchValue } from './search-request';
import { dateRangeMatches, numberMatches } from './search-values';

/**
 * The matching rules between search filters and index rows, executable: the reference the app's
 * SQL must agree with (and an in-memory matcher for subscription filters and tests).
 *
 * - token: system undefined = any system, null = the row has no system; code undefined = any
 *   code; exact, case-sensitive comparison. `:not` = no row of the parameter matches any value
 *   (so resources without the element match too).
 * - string: default = the row's normalised value starts with the normalised search value;
 *   `:exact` = the row's value equals the value as given; `:contains` = normalised substring.
 * - reference: the row's normalised reference equals one of the values.
 * - date / number / quantity: see `dateRangeMatches` / `numberMatches`; quantity also requires
 *   the system and code when given.
 * - uri: exact equality.
 * - composite: one tuple matches when one element (rows of one `composite_group`) has, for each
 *   component, a row of that component matching the component's value.
 * - `:missing=true`: the resource has no row for the parameter; `false`: at least one.
 */

function tokenMatches(value: TokenSearchValue, row: SearchIndexRow): boolean {
  if (value.system === null && row.system !== undefined) {
    return false;
  }
  if (typeof value.system === 'string' && row.system !== value.system) {
    return false;
  }
  return value.code === undefined || row.code === value.code;
}

function rowMatches(
  filter: Exclude<PlainFilter, CompositeFilter> | ComponentFilter,
  row: SearchIndexRow,
): boolean {
  switch (filter.kind) {
    case 'token':
      return filter.values.some((v) => tokenMatches(v, row));
    case 'string':
      return filter.values.some((v) => {
        if (filter.match === 'exact') {
          return row.value_string === v.value;
        }
        const normalized = row.value_string_normalized ?? '';
        return filter.match === 'contains'
          ? normalized.includes(v.normalized)
          : normalized.startsWith(v.normalized);
      });
    case 'reference':
      return row.value_reference !== undefined && filter.values.includes(row.value_reference);
    case 'date':
      return filter.values.some((v) =>
        dateRangeMatches(v.prefix, v, { start: row.value_date_start, end: row.value_date_end }),
      );
    case 'number':
      return (
        row.value_number !== undefined &&
        filter.values.some((v) => numberMatches(v.prefix, v, row.value_number as number))
      );
    case 'quantity':
      return (
        row.value_number !== undefined &&
        filter.values.some(
          (v) =>
            numberMatches(v.prefix, v, row.value_number as number) &&
            (v.system === undefined || row.system === v.system) &&
            (v.code === undefined || row.code === v.code),
        )
      );
    case 'uri':
      return row.value_string !== undefined && filter.values.includes(row.value_string);
    case 'missing':
      return true;
  }
}

/** Some element of the composite's rows matches every component of one of the tuples. */
function compositeMatches(filter: CompositeFilter, rows: readonly SearchIndexRow[]): boolean {
  const groups = new Set(rows.map((r) => r.composite_group));
  return filter.values.some((tuple) =>
    [...groups].some((group) =>
      tuple.every((component, index) =>
        rows.some(
          (r) => r.composite_group === group && r.component === index && rowMatches(component, r),
        ),
      ),
    ),
  );
}

/** Does one filter match a resource, given all of the resource's index rows? */
export function filterMatches(filter: SearchFilter, rows: readonly SearchIndexRow[]): boolean {
  if (filter.kind === 'chain' || filter.kind === 'has') {
    // The rows of one resource cannot tell what its references match (parsers refuse chains here).
    throw new Error('A chained filter is matched by the store, not in memory');
  }
  const own = rows.filter((r) => r.param === filter.param);
  if (filter.kind === 'missing') {
    return filter.missing ? own.length === 0 : own.length > 0;
  }
  if (filter.kind === 'composite') {
    return compositeMatches(filter, own);
  }
  if (filter.kind === 'token' && filter.not) {
    return !own.some((r) => rowMatches(filter, r));
  }
  return own.some((r) => rowMatches(filter, r));
}

/** Do all filters (AND) match a resource, given its index rows? */
export function searchIndexMatches(
  filters: readonly SearchFilter[],
  rows: readonly SearchIndexRow[],
): boolean {
  return filters.every((f) => filterMatches(f, rows));
}
