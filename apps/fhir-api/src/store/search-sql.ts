import type {
  ChainFilter,
  ComponentFilter,
  CompositeFilter,
  DateSearchValue,
  HasFilter,
  NumberSearchValue,
  PlainFilter,
  SearchFilter,
  SortRule,
  TokenSearchValue,
} from '@carerelay/fhir';
import { SqlParams } from './sql';

/**
 * Turns the filters of a parsed search (libs/fhir parseSearchRequest) into SQL predicates over the
 * `resources` row `r` and its `search_index` rows. The matching rules mirror libs/fhir's
 * search-match.ts (the executable reference), which the unit tests compare against.
 */

const likeEscape = (value: string): string => value.replace(/[\\%_]/g, (c) => `\\${c}`);

function tokenCondition(v: TokenSearchValue, s: string, p: SqlParams): string {
  const parts: string[] = [];
  if (v.system === null) parts.push(`${s}.system IS NULL`);
  else if (typeof v.system === 'string') parts.push(`${s}.system = ${p.add(v.system)}`);
  if (v.code !== undefined) parts.push(`${s}.code = ${p.add(v.code)}`);
  return parts.length ? `(${parts.join(' AND ')})` : 'TRUE';
}

/** Date range [start, end) of the row against a search value, as in dateRangeMatches. */
export function dateCondition(
  v: Pick<DateSearchValue, 'prefix' | 'start' | 'end'>,
  rowStart: string,
  rowEnd: string,
  p: SqlParams,
): string {
  // Only the bounds a prefix uses become parameters (an unused one has no type for PostgreSQL).
  let s: string | undefined;
  let e: string | undefined;
  const S = () => (s ??= `${p.add(v.start)}::timestamptz`);
  const E = () => (e ??= `${p.add(v.end)}::timestamptz`);
  switch (v.prefix) {
    case 'eq':
      return `(${rowStart} >= ${S()} AND ${rowEnd} <= ${E()})`;
    case 'ne':
      return `NOT COALESCE(${rowStart} >= ${S()} AND ${rowEnd} <= ${E()}, false)`;
    case 'gt':
      return `(${rowEnd} IS NULL OR ${rowEnd} > ${E()})`;
    case 'lt':
      return `(${rowStart} IS NULL OR ${rowStart} < ${S()})`;
    case 'ge':
      return `(${rowEnd} IS NULL OR ${rowEnd} > ${S()})`;
    case 'le':
      return `(${rowStart} IS NULL OR ${rowStart} < ${E()})`;
    case 'sa':
      return `(${rowStart} >= ${E()})`;
    case 'eb':
      return `(${rowEnd} <= ${S()})`;
  }
}

function numberCondition(v: NumberSearchValue, column: string, p: SqlParams): string {
  switch (v.prefix) {
    case 'eq':
      return `(${column} >= ${p.add(v.low)}::float8 AND ${column} < ${p.add(v.high)}::float8)`;
    case 'ne':
      return `NOT COALESCE(${column} >= ${p.add(v.low)}::float8 AND ${column} < ${p.add(v.high)}::float8, false)`;
    case 'gt':
    case 'sa':
      return `(${column} > ${p.add(v.value)}::float8)`;
    case 'lt':
    case 'eb':
      return `(${column} < ${p.add(v.value)}::float8)`;
    case 'ge':
      return `(${column} >= ${p.add(v.value)}::float8)`;
    case 'le':
      return `(${column} <= ${p.add(v.value)}::float8)`;
  }
}

const any = (conditions: string[]): string =>
  conditions.length === 1 ? conditions[0] : `(${conditions.join(' OR ')})`;

function rowCondition(
  filter: Exclude<PlainFilter, CompositeFilter> | ComponentFilter,
  s: string,
  p: SqlParams,
): string {
  switch (filter.kind) {
    case 'token':
      return any(filter.values.map((v) => tokenCondition(v, s, p)));
    case 'string':
      return any(
        filter.values.map((v) => {
          if (filter.match === 'exact') return `${s}.value_string = ${p.add(v.value)}`;
          const pattern =
            filter.match === 'contains'
              ? `%${likeEscape(v.normalized)}%`
              : `${likeEscape(v.normalized)}%`;
          return `${s}.value_string_normalized LIKE ${p.add(pattern)}`;
        }),
      );
    case 'reference':
      return `${s}.value_reference = ANY(${p.add(filter.values)}::text[])`;
    case 'date':
      return any(
        filter.values.map((v) =>
          dateCondition(v, `${s}.value_date_start`, `${s}.value_date_end`, p),
        ),
      );
    case 'number':
      return any(filter.values.map((v) => numberCondition(v, `${s}.value_number`, p)));
    case 'quantity':
      return any(
        filter.values.map((v) => {
          const parts = [numberCondition(v, `${s}.value_number`, p)];
          if (v.system !== undefined) parts.push(`${s}.system = ${p.add(v.system)}`);
          if (v.code !== undefined) parts.push(`${s}.code = ${p.add(v.code)}`);
          return `(${parts.join(' AND ')})`;
        }),
      );
    case 'uri':
      return `${s}.value_string = ANY(${p.add(filter.values)}::text[])`;
    case 'missing':
      return 'TRUE';
  }
}

/** The read rule of the actor as a predicate on the resources row aliased by its argument. */
export type ReadableCondition = (alias: string) => string;

/**
 * A composite (`characteristic-value=code$value`): for one tuple, a row of the first component
 * matching its value and, on the same element (`composite_group`), a row of each other component
 * matching its own. Tuples are ORed.
 */
function compositeCondition(
  filter: CompositeFilter,
  schema: string,
  r: string,
  p: SqlParams,
): string {
  const table = `"${schema}".search_index`;
  const param = p.add(filter.param);
  return any(
    filter.values.map((tuple) => {
      const [first, ...rest] = tuple;
      const others = rest.map((component, i) => {
        const c = `cc${i + 1}`;
        return `EXISTS (SELECT 1 FROM ${table} ${c} WHERE ${c}.resource_type = c0.resource_type
          AND ${c}.id = c0.id AND ${c}.param = c0.param AND ${c}.composite_group = c0.composite_group
          AND ${c}.component = ${i + 1} AND ${rowCondition(component, c, p)})`;
      });
      return `EXISTS (SELECT 1 FROM ${table} c0 WHERE c0.resource_type = ${r}.resource_type
        AND c0.id = ${r}.id AND c0.param = ${param} AND c0.component = 0
        AND ${[rowCondition(first, 'c0', p), ...others].join(' AND ')})`;
    }),
  );
}

/**
 * A chain (`focus:ServiceRequest.category=…`, deeper: `….patient.identifier=…`): `r` references,
 * through the reference parameter, a current resource of a target type that the actor may read
 * and that matches the chained filter (itself a chain or `_has` for a deeper level). The target's
 * readability is part of the predicate, so a chain never matches through a resource the actor
 * could not read (it would tell what that resource holds). Aliases carry the level, so a deeper
 * level never shadows the row it starts from.
 */
function chainCondition(
  filter: ChainFilter,
  schema: string,
  r: string,
  p: SqlParams,
  readable: ReadableCondition,
  depth: number,
): string {
  const s = `"${schema}"`;
  const [cr, ct] = [`cr${depth}`, `ct${depth}`];
  return `EXISTS (SELECT 1 FROM ${s}.search_index ${cr}
    JOIN ${s}.resources ${ct} ON ${ct}.resource_type = split_part(${cr}.value_reference, '/', 1)
      AND ${ct}.id = split_part(${cr}.value_reference, '/', 2)
      AND ${cr}.value_reference = ${ct}.resource_type || '/' || ${ct}.id
    WHERE ${cr}.resource_type = ${r}.resource_type AND ${cr}.id = ${r}.id AND ${cr}.param = ${p.add(filter.param)}
      AND ${ct}.resource_type = ANY(${p.add(filter.targetTypes)}::text[]) AND NOT ${ct}.deleted
      AND ${readable(ct)}
      AND ${filterCondition(filter.chained, schema, ct, p, readable, depth + 1)})`;
}

/**
 * `_has:Type:ref:filter`: a current `Type` resource the actor may read references `r` through
 * `ref` and matches the filter. Found through the reference index (type, param, value).
 */
function hasCondition(
  filter: HasFilter,
  schema: string,
  r: string,
  p: SqlParams,
  readable: ReadableCondition,
  depth: number,
): string {
  const s = `"${schema}"`;
  const [hr, hs] = [`hr${depth}`, `hs${depth}`];
  return `EXISTS (SELECT 1 FROM ${s}.search_index ${hr}
    JOIN ${s}.resources ${hs} ON ${hs}.resource_type = ${hr}.resource_type AND ${hs}.id = ${hr}.id
    WHERE ${hr}.resource_type = ${p.add(filter.sourceType)} AND ${hr}.param = ${p.add(filter.referenceParam)}
      AND ${hr}.value_reference = ${r}.resource_type || '/' || ${r}.id
      AND NOT ${hs}.deleted AND ${readable(hs)}
      AND ${filterCondition(filter.filter, schema, hs, p, readable, depth + 1)})`;
}

/**
 * One filter as a predicate on `r` (a resources row of schema `schema`); `readable` is the
 * actor's read rule, which a chain or `_has` applies to the resources it goes through; `depth`
 * is the level of chaining `r` is at.
 */
export function filterCondition(
  filter: SearchFilter,
  schema: string,
  r: string,
  p: SqlParams,
  readable: ReadableCondition = () => 'FALSE',
  depth = 0,
): string {
  if (filter.kind === 'chain') return chainCondition(filter, schema, r, p, readable, depth);
  if (filter.kind === 'has') return hasCondition(filter, schema, r, p, readable, depth);
  if (filter.kind === 'composite') return compositeCondition(filter, schema, r, p);
  // _id and _lastUpdated are columns of the resource row itself.
  if (filter.param === '_id') {
    if (filter.kind === 'missing') return filter.missing ? 'FALSE' : 'TRUE';
    if (filter.kind === 'token') {
      const ids = filter.values.map((v) => v.code).filter((c): c is string => c !== undefined);
      const condition = `${r}.id = ANY(${p.add(ids)}::text[])`;
      return filter.not ? `NOT (${condition})` : condition;
    }
  }
  if (filter.param === '_lastUpdated') {
    if (filter.kind === 'missing') return filter.missing ? 'FALSE' : 'TRUE';
    if (filter.kind === 'date') {
      const end = `(${r}.last_updated + interval '1 millisecond')`;
      return any(filter.values.map((v) => dateCondition(v, `${r}.last_updated`, end, p)));
    }
  }
  const s = 'si';
  const own = `${s}.resource_type = ${r}.resource_type AND ${s}.id = ${r}.id AND ${s}.param = ${p.add(filter.param)}`;
  const table = `"${schema}".search_index ${s}`;
  if (filter.kind === 'missing') {
    return `${filter.missing ? 'NOT ' : ''}EXISTS (SELECT 1 FROM ${table} WHERE ${own})`;
  }
  const exists = `EXISTS (SELECT 1 FROM ${table} WHERE ${own} AND ${rowCondition(filter, s, p)})`;
  return filter.kind === 'token' && filter.not ? `NOT ${exists}` : exists;
}

/** One key of a search's order: its SQL value, that value as text (for a cursor), its type. */
export interface SortKey {
  expression: string;
  /** The value as canonical text: what a keyset cursor carries and compares against. */
  text: string;
  sqlType: 'timestamptz' | 'text' | 'float8' | 'int8';
  descending: boolean;
  /** Only the id is never NULL; other keys sort their NULLs last. */
  nullable: boolean;
}

const utcText = (expression: string): string =>
  `to_char(${expression} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/**
 * The keys of a search's order: each sort key (a parameter with several values sorts by its
 * lowest ascending and its highest descending; resources without one come last), then the id, in
 * the first key's direction, so that the order is total (what keyset paging needs). No key: by
 * last update.
 */
export function sortKeys(
  sort: readonly SortRule[],
  schema: string,
  r: string,
  p: SqlParams,
): SortKey[] {
  const rules = sort.length > 0 ? sort : [{ param: '_lastUpdated', descending: false }];
  const keys = rules.map((rule): SortKey => {
    const descending = rule.descending;
    if (rule.param === '_lastUpdated') {
      const expression = `${r}.last_updated`;
      return {
        expression,
        text: utcText(expression),
        sqlType: 'timestamptz',
        descending,
        nullable: false,
      };
    }
    if (rule.param === '_id') {
      return {
        expression: `${r}.id`,
        text: `${r}.id`,
        sqlType: 'text',
        descending,
        nullable: false,
      };
    }
    const column =
      rule.type === 'date'
        ? 'value_date_start'
        : rule.type === 'token'
          ? 'code'
          : rule.type === 'number' || rule.type === 'quantity'
            ? 'value_number'
            : rule.type === 'string'
              ? 'value_string_normalized'
              : 'value_string';
    const aggregate = descending ? 'max' : 'min';
    const expression = `(SELECT ${aggregate}(so.${column}) FROM "${schema}".search_index so
      WHERE so.resource_type = ${r}.resource_type AND so.id = ${r}.id AND so.param = ${p.add(rule.param)})`;
    if (rule.type === 'date')
      return {
        expression,
        text: utcText(expression),
        sqlType: 'timestamptz',
        descending,
        nullable: true,
      };
    if (rule.type === 'number' || rule.type === 'quantity')
      // float8 as text is the shortest exact form (extra_float_digits ≥ 1): it casts back equal.
      return {
        expression,
        text: `${expression}::text`,
        sqlType: 'float8',
        descending,
        nullable: true,
      };
    return { expression, text: expression, sqlType: 'text', descending, nullable: true };
  });
  if (!rules.some((rule) => rule.param === '_id')) {
    keys.push({
      expression: `${r}.id`,
      text: `${r}.id`,
      sqlType: 'text',
      descending: rules[0].descending,
      nullable: false,
    });
  }
  return keys;
}

/** A key on a column that is never NULL (the last keys of an order: unique together). */
export function columnKey(
  expression: string,
  sqlType: SortKey['sqlType'],
  descending: boolean,
): SortKey {
  const text = sqlType === 'timestamptz' ? utcText(expression) : `${expression}::text`;
  return { expression, text, sqlType, descending, nullable: false };
}

/**
 * The order of `_history` (rows of resource_history as `h`): newest first, then by id, a
 * resource's newest version first (versions written in one transaction share their stamp).
 */
export function historyKeys(h: string, schema: string, p: SqlParams): SortKey[] {
  const byUpdateThenId = [
    { param: '_lastUpdated', descending: true },
    { param: '_id', descending: false },
  ];
  return [...sortKeys(byUpdateThenId, schema, h, p), columnKey(`${h}.version_id`, 'int8', true)];
}

/**
 * The ORDER BY of these keys; `reversed` walks it backwards (a `previous` or `last` page is read
 * backwards from its edge, then turned round).
 */
export function orderBy(keys: readonly SortKey[], reversed = false): string {
  return keys
    .map((k) => {
      const descending = k.descending !== reversed;
      const nulls = k.nullable ? (reversed ? ' NULLS FIRST' : ' NULLS LAST') : '';
      return `${k.expression} ${descending ? 'DESC' : 'ASC'}${nulls}`;
    })
    .join(', ');
}

/**
 * Keyset paging: the rows strictly after (`before`: strictly before) the position `values` (one
 * text per key, NULL for a resource without the key) in the order of `keys`. Row-wise, with
 * NULLs last: after (a, b) is `k1 beyond a OR (k1 = a AND k2 beyond b)`.
 */
export function keysetCondition(
  keys: readonly SortKey[],
  values: readonly (string | null)[],
  direction: 'after' | 'before',
  p: SqlParams,
): string {
  const alternatives: string[] = [];
  const equalSoFar: string[] = [];
  keys.forEach((k, i) => {
    const value = values[i];
    const param = value === null ? undefined : `${p.add(value)}::${k.sqlType}`;
    const forward = direction === 'after';
    let beyond: string | undefined;
    if (param === undefined) {
      // NULLs sort last: nothing is after a NULL; everything with a value is before it.
      beyond = forward ? undefined : `${k.expression} IS NOT NULL`;
    } else {
      const comparison = `${k.expression} ${k.descending === forward ? '<' : '>'} ${param}`;
      beyond = k.nullable && forward ? `(${comparison} OR ${k.expression} IS NULL)` : comparison;
    }
    if (beyond !== undefined) alternatives.push([...equalSoFar, beyond].join(' AND '));
    equalSoFar.push(param === undefined ? `${k.expression} IS NULL` : `${k.expression} = ${param}`);
  });
  return alternatives.length > 0 ? `(${alternatives.map((a) => `(${a})`).join(' OR ')})` : 'FALSE';
}
