import { evalFhirPathTyped, toTypedValue, type TypedValue } from '@medplum/core';
import type {
  Address,
  CodeableConcept,
  Coding,
  ContactPoint,
  HumanName,
  Identifier,
  Period,
  Quantity,
  Reference,
  Resource,
  Timing,
} from '@medplum/fhirtypes';
import { normalizeReference, referenceType } from './references';
import {
  searchParametersFor,
  type SearchExpressionPart,
  type SearchParamInfo,
} from './search-parameters';
import { dateToRange, normalizeSearchString, periodToRange, type DateRange } from './search-values';

/**
 * Search index rows of a resource: one row per (parameter, value). The app stores them (e.g. a
 * `resource_search` table keyed by resource id) and turns parsed search requests into SQL over
 * them; `search-match.ts` states the matching rules executable in TypeScript.
 *
 * Which columns a row fills depends on its type:
 * - token:     `system?` and `code` (Coding system/code, Identifier system/value,
 *              ContactPoint system/value, plain codes and booleans with no system)
 * - reference: `value_reference`, normalised: `Type/id` for relative references and for absolute
 *              URLs on `localBaseUrls`; other absolute URLs as is; canonicals as is
 * - string:    `value_string` (as written) and `value_string_normalized` (lower case, accents
 *              removed, spaces collapsed); HumanName and Address give one row per part
 * - date:      `value_date_start` / `value_date_end`: [start, end) ISO-8601 UTC instants; either
 *              side missing = unbounded (open Period)
 * - number:    `value_number`
 * - quantity:  `value_number`, `system`, `code` (Quantity.code, else Quantity.unit)
 * - uri:       `value_string` (exact match)
 * - composite: per element the composite's expression selects, the rows of each component (of
 *              the component's type) under the composite's code, with `composite_group` (the
 *              element) and `component` (which part), so a tuple is matched on one element
 */

export type IndexedParamType =
  'token' | 'reference' | 'string' | 'date' | 'uri' | 'number' | 'quantity';

export interface SearchIndexRow {
  param: string;
  type: IndexedParamType;
  system?: string;
  code?: string;
  value_string?: string;
  value_string_normalized?: string;
  value_reference?: string;
  value_date_start?: string;
  value_date_end?: string;
  value_number?: number;
  /**
   * A component of a composite parameter: the rows of one element (one `Group.characteristic`)
   * share `composite_group`; `component` is the index of the component in the definition.
   */
  composite_group?: number;
  component?: number;
}

export interface ExtractOptions {
  /** This server's base URL(s): absolute references on them are stored relative. */
  localBaseUrls?: readonly string[];
}

/** Longest string stored in an index row; longer values are cut (search still starts-with). */
export const MAX_INDEXED_STRING_LENGTH = 1024;

function cut(value: string): string {
  return value.length > MAX_INDEXED_STRING_LENGTH
    ? value.slice(0, MAX_INDEXED_STRING_LENGTH)
    : value;
}

function tokenRows(param: string, tv: TypedValue): SearchIndexRow[] {
  const row = (system: string | undefined, code: string | undefined): SearchIndexRow[] => {
    if (code === undefined || code === '') {
      return [];
    }
    const r: SearchIndexRow = { param, type: 'token', code: cut(code) };
    if (system) {
      r.system = system;
    }
    return [r];
  };
  switch (tv.type) {
    case 'Coding': {
      const c = tv.value as Coding;
      return row(c.system, c.code);
    }
    case 'CodeableConcept': {
      const cc = tv.value as CodeableConcept;
      return (cc.coding ?? []).flatMap((c) => row(c.system, c.code));
    }
    case 'Identifier': {
      const id = tv.value as Identifier;
      return row(id.system, id.value);
    }
    case 'ContactPoint': {
      const cp = tv.value as ContactPoint;
      return row(cp.system, cp.value);
    }
    case 'boolean':
      return typeof tv.value === 'boolean' ? row(undefined, String(tv.value)) : [];
    case 'code':
    case 'string':
    case 'id':
    case 'uri':
    case 'url':
    case 'canonical':
    case 'oid':
    case 'uuid':
      return typeof tv.value === 'string' ? row(undefined, tv.value) : [];
    default:
      return [];
  }
}

function referenceRows(
  param: string,
  tv: TypedValue,
  part: Pick<SearchExpressionPart, 'resolveType'>,
  options: ExtractOptions,
): SearchIndexRow[] {
  if (tv.type === 'Reference') {
    const ref = tv.value as Reference;
    if (part.resolveType && referenceType(ref) !== part.resolveType) {
      return [];
    }
    const normalised = normalizeReference(ref.reference, options.localBaseUrls);
    return normalised ? [{ param, type: 'reference', value_reference: normalised }] : [];
  }
  if (
    (tv.type === 'canonical' || tv.type === 'uri' || tv.type === 'url') &&
    typeof tv.value === 'string' &&
    !part.resolveType
  ) {
    return [{ param, type: 'reference', value_reference: cut(tv.value) }];
  }
  return [];
}

function stringRow(param: string, value: unknown): SearchIndexRow[] {
  if (typeof value !== 'string' || value.trim() === '') {
    return [];
  }
  return [
    {
      param,
      type: 'string',
      value_string: cut(value),
      value_string_normalized: cut(normalizeSearchString(value)),
    },
  ];
}

function stringRows(param: string, tv: TypedValue): SearchIndexRow[] {
  switch (tv.type) {
    case 'string':
    case 'markdown':
    case 'code':
      return stringRow(param, tv.value);
    case 'HumanName': {
      const n = tv.value as HumanName;
      return [
        n.text,
        n.family,
        ...(n.given ?? []),
        ...(n.prefix ?? []),
        ...(n.suffix ?? []),
      ].flatMap((v) => stringRow(param, v));
    }
    case 'Address': {
      const a = tv.value as Address;
      return [
        a.text,
        ...(a.line ?? []),
        a.city,
        a.district,
        a.state,
        a.postalCode,
        a.country,
      ].flatMap((v) => stringRow(param, v));
    }
    default:
      return [];
  }
}

function dateRow(param: string, range: DateRange | undefined): SearchIndexRow[] {
  if (!range) {
    return [];
  }
  const row: SearchIndexRow = { param, type: 'date' };
  if (range.start !== undefined) {
    row.value_date_start = range.start;
  }
  if (range.end !== undefined) {
    row.value_date_end = range.end;
  }
  return [row];
}

function dateRows(param: string, tv: TypedValue): SearchIndexRow[] {
  switch (tv.type) {
    case 'date':
    case 'dateTime':
    case 'instant':
      return typeof tv.value === 'string' ? dateRow(param, dateToRange(tv.value)) : [];
    case 'Period':
      return dateRow(param, periodToRange(tv.value as Period));
    case 'Timing': {
      const timing = tv.value as Timing;
      if (timing.event?.length) {
        return timing.event.flatMap((e) => dateRow(param, dateToRange(e)));
      }
      const bounds = timing.repeat?.boundsPeriod;
      return bounds ? dateRow(param, periodToRange(bounds)) : [];
    }
    default:
      return [];
  }
}

function numberRows(param: string, tv: TypedValue): SearchIndexRow[] {
  if (
    ['integer', 'decimal', 'positiveInt', 'unsignedInt'].includes(tv.type) &&
    typeof tv.value === 'number' &&
    Number.isFinite(tv.value)
  ) {
    return [{ param, type: 'number', value_number: tv.value }];
  }
  return [];
}

function quantityRows(param: string, tv: TypedValue): SearchIndexRow[] {
  if (!['Quantity', 'Age', 'Duration', 'Distance', 'Count', 'SimpleQuantity'].includes(tv.type)) {
    return [];
  }
  const q = tv.value as Quantity;
  if (typeof q.value !== 'number' || !Number.isFinite(q.value)) {
    return [];
  }
  const row: SearchIndexRow = { param, type: 'quantity', value_number: q.value };
  if (q.system) {
    row.system = q.system;
  }
  const code = q.code ?? q.unit;
  if (code) {
    row.code = code;
  }
  return [row];
}

function uriRows(param: string, tv: TypedValue): SearchIndexRow[] {
  if (
    ['uri', 'url', 'canonical', 'oid', 'uuid'].includes(tv.type) &&
    typeof tv.value === 'string'
  ) {
    return [{ param, type: 'uri', value_string: cut(tv.value) }];
  }
  return [];
}

function rowsFor(
  param: Pick<SearchParamInfo, 'code' | 'type'>,
  tv: TypedValue,
  part: Pick<SearchExpressionPart, 'resolveType'>,
  options: ExtractOptions,
): SearchIndexRow[] {
  switch (param.type) {
    case 'token':
      return tokenRows(param.code, tv);
    case 'reference':
      return referenceRows(param.code, tv, part, options);
    case 'string':
      return stringRows(param.code, tv);
    case 'date':
      return dateRows(param.code, tv);
    case 'number':
      return numberRows(param.code, tv);
    case 'quantity':
      return quantityRows(param.code, tv);
    case 'uri':
      return uriRows(param.code, tv);
    default:
      return [];
  }
}

/** The rows of one element of a composite: each component's, tagged with the element's group. */
function compositeRows(
  param: SearchParamInfo,
  element: TypedValue,
  group: number,
  options: ExtractOptions,
): SearchIndexRow[] {
  return (param.components ?? []).flatMap((component, index) =>
    evalFhirPathTyped(component.parsed, [element]).flatMap((tv) =>
      rowsFor({ code: param.code, type: component.type }, tv, {}, options).map((row) => ({
        ...row,
        composite_group: group,
        component: index,
      })),
    ),
  );
}

/**
 * Evaluates every supported search parameter of the resource's type (R4 definitions + IG) on
 * the resource and returns the index rows, without duplicates. The resource should have been
 * validated first; references should already be rewritten (`urn:uuid:` values are not indexed).
 */
export function extractSearchIndex(
  resource: Resource,
  options: ExtractOptions = {},
): SearchIndexRow[] {
  const params = searchParametersFor(resource.resourceType);
  const input = [toTypedValue(resource)];
  const seen = new Set<string>();
  const rows: SearchIndexRow[] = [];
  for (const param of params.values()) {
    if (!param.supported) {
      continue;
    }
    let group = 0;
    for (const part of param.parts) {
      let values: TypedValue[];
      try {
        values = evalFhirPathTyped(part.parsed, input);
      } catch (error) {
        throw new Error(
          `Search parameter ${resource.resourceType}.${param.code} (${part.expression}) failed: ${
            (error as Error).message
          }`,
        );
      }
      for (const tv of values) {
        const found =
          param.type === 'composite'
            ? compositeRows(param, tv, group++, options)
            : rowsFor(param, tv, part, options);
        for (const row of found) {
          const key = JSON.stringify(row);
          if (!seen.has(key)) {
            seen.add(key);
            rows.push(row);
          }
        }
      }
    }
  }
  return rows;
}
