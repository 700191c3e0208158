import { isR4ResourceType } from './fhir-definitions';
import { FHIR_XML_MEDIA_TYPES } from './fhir-xml';
import { badRequest, notFound } from './operation-outcome';
import { FHIR_ID_PATTERN, normalizeReference, parseReference } from './references';
import { type ChainFilter, type HasFilter, parseLinkedParameter } from './search-chain';
import {
  type ComponentFilter,
  type CompositeFilter,
  parseCompositeFilter,
} from './search-composite';
import {
  searchParametersFor,
  type SearchParamInfo,
  type SearchParamType,
} from './search-parameters';
import {
  dateToRange,
  normalizeSearchString,
  parseDecimal,
  SEARCH_PREFIXES,
  type SearchPrefix,
} from './search-values';

/**
 * Parses a FHIR search query (`GET [base]/Task?status=requested&_count=10`) into a typed,
 * validated description. No SQL here: the app turns the description into SQL over the rows of
 * `extractSearchIndex`, following the rules stated (and executable) in `search-match.ts`.
 *
 * Handling: FHIR `handling=strict` by default. An unknown or unsupported parameter (including
 * special parameters, chains or `_has` deeper than MAX_CHAIN_DEPTH or on an unknown parameter,
 * unsupported modifiers) is a 400 naming it. With `handling: 'lenient'` (the client sent
 * `Prefer: handling=lenient`) unknown and unsupported parameters are skipped and listed in
 * `ignored`; an invalid value of a known parameter is a 400 either way. Empty values
 * (`status=`) are ignored, as FHIR requires.
 */

export const DEFAULT_SEARCH_COUNT = 20;
export const MAX_SEARCH_COUNT = 100;
/** `_offset` above this is refused (narrow the search instead). */
export const MAX_SEARCH_OFFSET = 10_000;
/** Comma-separated (OR) values per parameter. */
export const MAX_OR_VALUES = 100;
/** Parameters in one query string. */
export const MAX_QUERY_PARAMETERS = 50;
/** Length of one parameter value. */
export const MAX_SEARCH_VALUE_LENGTH = 2048;

/** `system` undefined: any system; `null`: no system (`|code`). `code` undefined: any code (`system|`). */
export interface TokenSearchValue {
  system?: string | null;
  code?: string;
}

export interface StringSearchValue {
  value: string;
  normalized: string;
}

export interface DateSearchValue {
  prefix: SearchPrefix;
  /** The value as given (without prefix). */
  value: string;
  /** [start, end) ISO-8601 UTC instants covered by the value. */
  start: string;
  end: string;
}

export interface NumberSearchValue {
  prefix: SearchPrefix;
  value: number;
  /** Implicit precision range of the literal, [low, high). */
  low: number;
  high: number;
}

export interface QuantitySearchValue extends NumberSearchValue {
  system?: string;
  code?: string;
}

interface FilterBase {
  /** The search parameter code, e.g. `status`, `_id`, `_lastUpdated`. */
  param: string;
}

/** Several filters are ANDed; the values inside one filter are ORed. */
export type SearchFilter = PlainFilter | ChainFilter | HasFilter;

/** A filter on the searched resource's own index rows. */
export type PlainFilter =
  | (FilterBase & { kind: 'missing'; paramType: SearchParamType; missing: boolean })
  | (FilterBase & { kind: 'token'; not: boolean; values: TokenSearchValue[] })
  | (FilterBase & {
      kind: 'string';
      match: 'starts-with' | 'exact' | 'contains';
      values: StringSearchValue[];
    })
  | (FilterBase & { kind: 'reference'; values: string[] })
  | (FilterBase & { kind: 'date'; values: DateSearchValue[] })
  | (FilterBase & { kind: 'number'; values: NumberSearchValue[] })
  | (FilterBase & { kind: 'quantity'; values: QuantitySearchValue[] })
  | (FilterBase & { kind: 'uri'; values: string[] })
  | CompositeFilter;

export type { ChainFilter, HasFilter } from './search-chain';
export type { ComponentFilter, CompositeFilter } from './search-composite';

/** The index column a sort key orders by (date: the start of the range; token: the code). */
export type SortValueType = 'date' | 'token' | 'string' | 'number' | 'quantity' | 'uri';

export interface SortRule {
  /** `_lastUpdated`, `_id` (columns of the resource) or a search parameter of the type. */
  param: string;
  descending: boolean;
  /** The parameter's type, for a search parameter (not `_id`/`_lastUpdated`). */
  type?: SortValueType;
}

/** Rounds of `_include:iterate` / `_revinclude:iterate` a search follows at most. */
export const MAX_INCLUDE_ITERATIONS = 3;

/** `_include=Task:focus[:ServiceRequest]` / `_revinclude=Task:focus`, `:iterate` when iterated. */
export interface IncludeParam {
  sourceType: string;
  param: string;
  targetType?: string;
  /** `_include:iterate`: applies to included resources too, up to MAX_INCLUDE_ITERATIONS rounds. */
  iterate?: boolean;
}

export interface FhirSearchRequest {
  resourceType: string;
  filters: SearchFilter[];
  /** Page size: `_count`, default DEFAULT_SEARCH_COUNT, capped at MAX_SEARCH_COUNT; 0 = total only. */
  count: number;
  /** `_offset`, default 0. */
  offset: number;
  /**
   * `_cursor`: the opaque keyset position of a `next`/`previous`/`last` link, as sent; the app
   * decodes it (it alone holds the key). Never together with `_offset`.
   */
  cursor?: string;
  /** Empty = the app's default order. */
  sort: SortRule[];
  /** `_summary=count`: return the total only. */
  summary?: 'count';
  total?: 'none' | 'estimate' | 'accurate';
  include: IncludeParam[];
  revinclude: IncludeParam[];
  pretty?: boolean;
  /** Lenient handling only: the parameters that were skipped. */
  ignored: string[];
}

export interface ParseSearchOptions {
  handling?: 'strict' | 'lenient';
  /** This server's base URL(s): absolute reference values on them are made relative. */
  localBaseUrls?: readonly string[];
  /**
   * Accept chained parameters and `_has` (filters of kind `chain`, `has`). Only where the filters
   * become SQL: the in-memory matcher (subscription filters) cannot follow a reference, so
   * elsewhere they stay "not supported".
   */
  chains?: boolean;
}

export type SearchQuery =
  URLSearchParams | string | Readonly<Record<string, string | readonly string[] | undefined>>;

const UNSUPPORTED_CONTROL = new Set([
  '_contained',
  '_containedType',
  '_type',
  '_list',
  '_query',
  '_filter',
  '_text',
  '_content',
  '_graph',
  '_score',
]);
const SINGLE_VALUED_CONTROL = new Set([
  '_count',
  '_offset',
  '_cursor',
  '_sort',
  '_summary',
  '_total',
  '_pretty',
]);

function entriesOf(query: SearchQuery): [string, string][] {
  if (typeof query === 'string') {
    return [...new URLSearchParams(query.startsWith('?') ? query.slice(1) : query).entries()];
  }
  if (query instanceof URLSearchParams) {
    return [...query.entries()];
  }
  const entries: [string, string][] = [];
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) {
      continue;
    }
    if (typeof value === 'string') {
      entries.push([key, value]);
    } else if (Array.isArray(value)) {
      for (const v of value) {
        if (typeof v !== 'string') {
          throw badRequest(`Invalid value for search parameter "${key}"`);
        }
        entries.push([key, v]);
      }
    } else {
      throw badRequest(`Invalid value for search parameter "${key}"`);
    }
  }
  return entries;
}

/** Splits on an unescaped separator; escapes (`\,` `\|` `\$` `\\`) are kept for the next step. */
function splitEscaped(value: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (ch === '\\' && i + 1 < value.length) {
      current += ch + value[i + 1];
      i++;
    } else if (ch === separator) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts;
}

function unescape(value: string): string {
  return value.replace(/\\([\\,|$])/g, '$1');
}

function splitPrefix(raw: string, param: string): { prefix: SearchPrefix; rest: string } {
  const m = /^([a-z]{2})(?=[0-9-])/.exec(raw);
  if (m) {
    if (m[1] === 'ap') {
      throw badRequest(
        `The "ap" prefix is not supported (parameter "${param}")`,
        undefined,
        'not-supported',
      );
    }
    if ((SEARCH_PREFIXES as readonly string[]).includes(m[1])) {
      return { prefix: m[1] as SearchPrefix, rest: raw.slice(2) };
    }
    throw badRequest(`Unknown prefix "${m[1]}" for parameter "${param}"`, undefined, 'value');
  }
  return { prefix: 'eq', rest: raw };
}

function parseToken(param: string, raw: string): TokenSearchValue {
  const parts = splitEscaped(raw, '|');
  if (parts.length > 2) {
    throw badRequest(`Invalid token "${raw}" for parameter "${param}"`, undefined, 'value');
  }
  if (parts.length === 1) {
    const code = unescape(parts[0]);
    if (param === '_id' && !FHIR_ID_PATTERN.test(code)) {
      throw badRequest(`Invalid id "${code}" for parameter "_id"`, undefined, 'value');
    }
    return { code };
  }
  if (param === '_id') {
    throw badRequest('The _id parameter takes plain ids', undefined, 'value');
  }
  const system = unescape(parts[0]);
  const code = unescape(parts[1]);
  if (system === '' && code === '') {
    throw badRequest(`Invalid token "${raw}" for parameter "${param}"`, undefined, 'value');
  }
  const value: TokenSearchValue = { system: system === '' ? null : system };
  if (code !== '') {
    value.code = code;
  }
  return value;
}

function parseDate(param: string, raw: string): DateSearchValue {
  const { prefix, rest } = splitPrefix(raw, param);
  // A '+' in a timezone that reached us unencoded has become a space: put it back.
  const text = rest.replace(/ (\d{2}:\d{2})$/, '+$1');
  const range = dateToRange(text);
  if (!range?.start || !range.end) {
    throw badRequest(`Invalid date "${rest}" for parameter "${param}"`, undefined, 'value');
  }
  return { prefix, value: text, start: range.start, end: range.end };
}

function parseNumber(param: string, raw: string): NumberSearchValue {
  const { prefix, rest } = splitPrefix(raw, param);
  const n = parseDecimal(rest);
  if (!n) {
    throw badRequest(`Invalid number "${rest}" for parameter "${param}"`, undefined, 'value');
  }
  return { prefix, ...n };
}

function parseQuantity(param: string, raw: string): QuantitySearchValue {
  const parts = splitEscaped(raw, '|');
  if (parts.length !== 1 && parts.length !== 3) {
    throw badRequest(`Invalid quantity "${raw}" for parameter "${param}"`, undefined, 'value');
  }
  const value: QuantitySearchValue = parseNumber(param, unescape(parts[0]));
  if (parts.length === 3) {
    const system = unescape(parts[1]);
    const code = unescape(parts[2]);
    if (system) {
      value.system = system;
    }
    if (code) {
      value.code = code;
    }
  }
  return value;
}

function parseReferenceValue(
  info: SearchParamInfo,
  raw: string,
  typeModifier: string | undefined,
  options: ParseSearchOptions,
): string[] {
  const value = unescape(raw);
  const checkTarget = (type: string): void => {
    if (info.targets.length > 0 && !info.targets.includes(type)) {
      throw badRequest(`Parameter "${info.code}" cannot reference a ${type}`, undefined, 'value');
    }
  };
  if (typeModifier) {
    const id = value.startsWith(`${typeModifier}/`) ? value.slice(typeModifier.length + 1) : value;
    if (!FHIR_ID_PATTERN.test(id)) {
      throw badRequest(`Invalid id "${id}" for parameter "${info.code}"`, undefined, 'value');
    }
    return [`${typeModifier}/${id}`];
  }
  if (!value.includes('/')) {
    if (!FHIR_ID_PATTERN.test(value)) {
      throw badRequest(
        `Invalid reference "${value}" for parameter "${info.code}"`,
        undefined,
        'value',
      );
    }
    if (info.targets.length === 0) {
      throw badRequest(
        `Parameter "${info.code}" needs a typed reference (Type/id)`,
        undefined,
        'value',
      );
    }
    return info.targets.map((t) => `${t}/${value}`);
  }
  const parsed = parseReference(value);
  if (parsed?.kind === 'relative' || parsed?.kind === 'absolute') {
    checkTarget(parsed.resourceType);
    return [normalizeReference(value, options.localBaseUrls) as string];
  }
  if (/^https?:\/\/\S+$/.test(value) || /^urn:(uuid|oid):\S+$/.test(value)) {
    return [value]; // a canonical URL (e.g. QuestionnaireResponse?questionnaire=http://...)
  }
  throw badRequest(`Invalid reference "${value}" for parameter "${info.code}"`, undefined, 'value');
}

function parseInclude(
  resourceType: string,
  value: string,
  reverse: boolean,
  iterate = false,
): IncludeParam {
  const name = `${reverse ? '_revinclude' : '_include'}${iterate ? ':iterate' : ''}`;
  if (value === '*' || value.endsWith(':*')) {
    throw badRequest(`${name}=${value}: wildcards are not supported`, undefined, 'not-supported');
  }
  const parts = value.split(':');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
    throw badRequest(`${name}=${value}: expected Type:parameter[:TargetType]`, undefined, 'value');
  }
  const [sourceType, param, targetType] = parts;
  if (!isR4ResourceType(sourceType)) {
    throw badRequest(`${name}=${value}: unknown resource type "${sourceType}"`, undefined, 'value');
  }
  // An iterated include also applies to what was included, whatever its type.
  if (!reverse && !iterate && sourceType !== resourceType) {
    throw badRequest(
      `${name}=${value}: the source type must be the searched type ${resourceType}`,
      undefined,
      'value',
    );
  }
  const info = searchParametersFor(sourceType).get(param);
  if (!info || info.type !== 'reference' || !info.supported) {
    throw badRequest(
      `${name}=${value}: "${param}" is not a reference search parameter of ${sourceType}`,
      undefined,
      'value',
    );
  }
  if (targetType !== undefined) {
    if (
      !isR4ResourceType(targetType) ||
      (info.targets.length && !info.targets.includes(targetType))
    ) {
      throw badRequest(
        `${name}=${value}: ${sourceType}.${param} cannot reference a ${targetType}`,
        undefined,
        'value',
      );
    }
  }
  if (reverse && !iterate && info.targets.length > 0 && !info.targets.includes(resourceType)) {
    throw badRequest(
      `${name}=${value}: ${sourceType}.${param} cannot reference a ${resourceType}`,
      undefined,
      'value',
    );
  }
  if (reverse && !iterate && targetType !== undefined && targetType !== resourceType) {
    throw badRequest(
      `${name}=${value}: the target type must be the searched type ${resourceType}`,
      undefined,
      'value',
    );
  }
  const include: IncludeParam = { sourceType, param };
  if (targetType !== undefined) {
    include.targetType = targetType;
  }
  if (iterate) {
    include.iterate = true;
  }
  return include;
}

function parseNonNegativeInt(name: string, value: string, max?: number): number {
  if (!/^\d{1,9}$/.test(value)) {
    throw badRequest(`${name} must be a non-negative integer`, undefined, 'value');
  }
  const n = Number(value);
  if (max !== undefined && n > max) {
    throw badRequest(`${name} must not exceed ${max}`, undefined, 'value');
  }
  return n;
}

const MODIFIERS_BY_TYPE: Record<string, readonly string[]> = {
  token: ['not'],
  string: ['exact', 'contains'],
  reference: [],
  date: [],
  number: [],
  quantity: [],
  uri: [],
  composite: [],
};

/** What the parsers of one query share: the request being built and how to skip a parameter. */
interface SearchParse {
  resourceType: string;
  params: ReadonlyMap<string, SearchParamInfo>;
  options: ParseSearchOptions;
  result: FhirSearchRequest;
  seenControl: Set<string>;
  /** Strict: throws `error`; lenient: lists `name` in `ignored`. */
  skip(name: string, error: Error): void;
}

/**
 * Parses and validates a search on `resourceType`. Throws a FhirError: 404 for an unknown
 * resource type, 400 for an unknown parameter (strict), a bad modifier, prefix or value.
 */
export function parseSearchRequest(
  resourceType: string,
  query: SearchQuery,
  options: ParseSearchOptions = {},
): FhirSearchRequest {
  if (!isR4ResourceType(resourceType)) {
    throw notFound(`Unknown resource type "${resourceType}"`);
  }
  const entries = entriesOf(query);
  if (entries.length > MAX_QUERY_PARAMETERS) {
    throw badRequest(`Too many search parameters (at most ${MAX_QUERY_PARAMETERS})`);
  }
  const result: FhirSearchRequest = {
    resourceType,
    filters: [],
    count: DEFAULT_SEARCH_COUNT,
    offset: 0,
    sort: [],
    include: [],
    revinclude: [],
    ignored: [],
  };
  const parse: SearchParse = {
    resourceType,
    params: searchParametersFor(resourceType),
    options,
    result,
    seenControl: new Set<string>(),
    skip: (name, error) => {
      if (options.handling !== 'lenient') {
        throw error;
      }
      result.ignored.push(name);
    },
  };
  for (const [name, rawValue] of entries) {
    parseEntry(parse, name, rawValue);
  }
  if (result.cursor !== undefined && result.offset > 0) {
    throw badRequest('_cursor and _offset cannot be combined', undefined, 'value');
  }
  return result;
}

/** One `name=value` of the query: a control parameter (`_count`, `_include`…) or a filter. */
function parseEntry(parse: SearchParse, name: string, rawValue: string): void {
  if (rawValue.length > MAX_SEARCH_VALUE_LENGTH) {
    throw badRequest(`The value of "${name}" is too long`, undefined, 'value');
  }
  const colon = name.indexOf(':');
  const code = colon === -1 ? name : name.slice(0, colon);
  const modifier = colon === -1 ? undefined : name.slice(colon + 1);
  if (code === '_has') {
    parseLinkedEntry(parse, name, rawValue);
  } else if (code.startsWith('_') && !parse.params.has(code)) {
    parseControl(parse, name, code, modifier, rawValue);
  } else {
    parseFilterEntry(parse, name, code, modifier, rawValue);
  }
}

/** The result parameters (`_count`, `_sort`, `_include`…), which are not search parameters. */
function parseControl(
  parse: SearchParse,
  name: string,
  code: string,
  modifier: string | undefined,
  rawValue: string,
): void {
  const { result } = parse;
  if (SINGLE_VALUED_CONTROL.has(code)) {
    if (modifier !== undefined) {
      throw badRequest(`${name}: modifiers are not allowed on ${code}`, undefined, 'value');
    }
    if (parse.seenControl.has(code)) {
      throw badRequest(`${code} may be given only once`, undefined, 'value');
    }
    parse.seenControl.add(code);
  }
  if (rawValue === '') {
    return;
  }
  switch (code) {
    case '_count':
      result.count = Math.min(parseNonNegativeInt('_count', rawValue), MAX_SEARCH_COUNT);
      return;
    case '_offset':
      result.offset = parseNonNegativeInt('_offset', rawValue, MAX_SEARCH_OFFSET);
      return;
    case '_cursor':
      if (!/^[A-Za-z0-9_.-]+$/.test(rawValue))
        throw badRequest(
          'Invalid _cursor: use the links of a searchset Bundle',
          undefined,
          'value',
        );
      result.cursor = rawValue;
      return;
    case '_sort':
      result.sort.push(...parseSort(parse, rawValue));
      return;
    case '_summary':
      if (parseSummary(rawValue)) {
        result.summary = 'count';
      }
      return;
    case '_elements':
      if (modifier !== undefined)
        throw badRequest(`${name}: modifiers are not allowed on _elements`, undefined, 'value');
      return;
    case '_total':
      result.total = parseTotal(rawValue);
      return;
    case '_pretty':
      result.pretty = parsePretty(rawValue);
      return;
    case '_format':
      checkFormat(rawValue);
      return;
    case '_include':
    case '_revinclude':
      if (modifier !== undefined && modifier !== 'iterate') {
        parse.skip(name, badRequest(`${name} is not supported`, undefined, 'not-supported'));
        return;
      }
      (code === '_include' ? result.include : result.revinclude).push(
        parseInclude(parse.resourceType, rawValue, code === '_revinclude', modifier === 'iterate'),
      );
      return;
    default:
      parse.skip(
        name,
        UNSUPPORTED_CONTROL.has(code)
          ? badRequest(`Search parameter "${code}" is not supported`, undefined, 'not-supported')
          : badRequest(
              `Unknown search parameter "${name}" for ${parse.resourceType}`,
              undefined,
              'not-supported',
            ),
      );
  }
}

const SORTABLE_TYPES: ReadonlySet<string> = new Set<SortValueType>([
  'date',
  'token',
  'string',
  'number',
  'quantity',
  'uri',
]);

/**
 * `_sort=a,-b`: `_id`, `_lastUpdated`, or a supported search parameter of the type whose index
 * rows have one comparable value (date, token, string, number, quantity, uri; not a reference).
 * Another key is skipped like an unknown parameter (400 strict, listed in `ignored` lenient).
 */
function parseSort(parse: SearchParse, rawValue: string): SortRule[] {
  const rules: SortRule[] = [];
  const seen = new Set<string>();
  for (const key of rawValue.split(',')) {
    const descending = key.startsWith('-');
    const param = descending ? key.slice(1) : key;
    if (param === '') {
      throw badRequest(`_sort=${rawValue}: empty sort key`, undefined, 'value');
    }
    if (seen.has(param)) {
      throw badRequest(`_sort: "${param}" is given twice`, undefined, 'value');
    }
    seen.add(param);
    if (param === '_lastUpdated' || param === '_id') {
      rules.push({ param, descending });
      continue;
    }
    const info = parse.params.get(param);
    if (!info?.supported || !SORTABLE_TYPES.has(info.type)) {
      parse.skip(
        `_sort=${key}`,
        badRequest(
          info
            ? `Sorting by "${param}" (${info.type}) is not supported`
            : `Unknown sort parameter "${param}" for ${parse.resourceType}`,
          undefined,
          'not-supported',
        ),
      );
      continue;
    }
    rules.push({ param, descending, type: info.type as SortValueType });
  }
  return rules;
}

/** True for `_summary=count`; true, text and data subset each match (subsetting.ts), after the search. */
function parseSummary(rawValue: string): boolean {
  if (rawValue === 'count') {
    return true;
  }
  if (!['true', 'text', 'data', 'false'].includes(rawValue)) {
    throw badRequest(`_summary must be true, text, data, count or false`, undefined, 'value');
  }
  return false;
}

function parseTotal(rawValue: string): NonNullable<FhirSearchRequest['total']> {
  if (rawValue === 'none' || rawValue === 'estimate' || rawValue === 'accurate') {
    return rawValue;
  }
  throw badRequest(`Invalid _total "${rawValue}"`, undefined, 'value');
}

function parsePretty(rawValue: string): boolean {
  if (rawValue !== 'true' && rawValue !== 'false') {
    throw badRequest('_pretty must be true or false', undefined, 'value');
  }
  return rawValue === 'true';
}

const SEARCH_FORMATS = new Set([
  'json',
  'application/json',
  'application/fhir+json',
  'xml',
  ...FHIR_XML_MEDIA_TYPES,
]);

/** The answer's format is negotiated by the HTTP layer; here only its name is checked. */
function checkFormat(rawValue: string): void {
  const format = rawValue.split(';')[0].trim().toLowerCase();
  if (!SEARCH_FORMATS.has(format)) {
    throw badRequest(
      `_format=${rawValue} is not supported (JSON or XML only)`,
      undefined,
      'not-supported',
    );
  }
}

/** A search parameter of the type: its filter, unless it is unknown or unsupported (skipped). */
function parseFilterEntry(
  parse: SearchParse,
  name: string,
  code: string,
  modifier: string | undefined,
  rawValue: string,
): void {
  if (name.includes('.')) {
    parseLinkedEntry(parse, name, rawValue);
    return;
  }
  const filter = parseParameterFilter(parse, parse.params, name, code, modifier, rawValue);
  if (filter) parse.result.filters.push(filter);
}

/** A chain (`ref[:Type].param…`) or `_has:…` (search-chain.ts), where chains are accepted. */
function parseLinkedEntry(parse: SearchParse, name: string, rawValue: string): void {
  if (!parse.options.chains) {
    const what = name.startsWith('_has') ? 'Reverse chaining (_has)' : `Chained search "${name}"`;
    parse.skip(name, badRequest(`${what} is not supported here`, undefined, 'not-supported'));
    return;
  }
  const filter = parseLinkedParameter(
    {
      skip: parse.skip,
      parameter: (resourceType, paramName, code, modifier, value) =>
        parseParameterFilter(
          { ...parse, resourceType },
          searchParametersFor(resourceType),
          paramName,
          code,
          modifier,
          value,
        ),
    },
    parse.resourceType,
    name,
    name,
    rawValue,
  );
  if (filter) parse.result.filters.push(filter);
}

/** The filter of one (non-chained) parameter of `params`, or undefined once skipped or empty. */
function parseParameterFilter(
  parse: SearchParse,
  params: ReadonlyMap<string, SearchParamInfo>,
  name: string,
  code: string,
  modifier: string | undefined,
  rawValue: string,
): PlainFilter | undefined {
  const info = supportedParameter(parse, params, name, code);
  if (!info || rawValue === '') {
    return undefined;
  }
  if (modifier === 'missing') {
    return parseMissing(name, code, info, rawValue);
  }
  const typeModifier = referenceTypeModifier(code, info, modifier);
  if (
    modifier !== undefined &&
    !MODIFIERS_BY_TYPE[info.type]?.includes(modifier) &&
    !typeModifier
  ) {
    parse.skip(
      name,
      badRequest(
        `Modifier ":${modifier}" is not supported on "${code}"`,
        undefined,
        'not-supported',
      ),
    );
    return undefined;
  }
  const rawValues = splitEscaped(rawValue, ',').filter((v) => v !== '');
  if (rawValues.length === 0) {
    return undefined;
  }
  if (rawValues.length > MAX_OR_VALUES) {
    throw badRequest(
      `Too many values for "${code}" (at most ${MAX_OR_VALUES})`,
      undefined,
      'value',
    );
  }
  const filter = parseFilter(info, code, modifier, typeModifier, rawValues, parse.options);
  if (!filter) {
    parse.skip(
      name,
      badRequest(`Search parameter "${code}" is not supported`, undefined, 'not-supported'),
    );
  }
  return filter;
}

/** The parameter's definition, or undefined once skipped: chained, unknown or unsupported. */
function supportedParameter(
  parse: SearchParse,
  params: ReadonlyMap<string, SearchParamInfo>,
  name: string,
  code: string,
): SearchParamInfo | undefined {
  const info = params.get(code);
  if (!info) {
    parse.skip(
      name,
      badRequest(
        `Unknown search parameter "${code}" for ${parse.resourceType}`,
        undefined,
        'not-supported',
      ),
    );
    return undefined;
  }
  if (!info.supported) {
    parse.skip(
      name,
      badRequest(
        `Search parameter "${code}" (${info.type}) is not supported`,
        undefined,
        'not-supported',
      ),
    );
    return undefined;
  }
  return info;
}

function parseMissing(
  name: string,
  code: string,
  info: SearchParamInfo,
  rawValue: string,
): PlainFilter {
  if (rawValue !== 'true' && rawValue !== 'false') {
    throw badRequest(`${name} must be true or false`, undefined, 'value');
  }
  return { param: code, kind: 'missing', paramType: info.type, missing: rawValue === 'true' };
}

/** `subject:Patient=…`: the resource type a reference parameter's modifier names, if it does. */
function referenceTypeModifier(
  code: string,
  info: SearchParamInfo,
  modifier: string | undefined,
): string | undefined {
  if (modifier === undefined || MODIFIERS_BY_TYPE[info.type]?.includes(modifier)) {
    return undefined;
  }
  if (info.type !== 'reference' || !isR4ResourceType(modifier)) {
    return undefined;
  }
  if (info.targets.length > 0 && !info.targets.includes(modifier)) {
    throw badRequest(`Parameter "${code}" cannot reference a ${modifier}`, undefined, 'value');
  }
  return modifier;
}

/** The filter of one parameter's comma-separated values; undefined for a type not searched. */
function parseFilter(
  info: SearchParamInfo,
  code: string,
  modifier: string | undefined,
  typeModifier: string | undefined,
  rawValues: string[],
  options: ParseSearchOptions,
): PlainFilter | undefined {
  switch (info.type) {
    case 'composite':
      return parseCompositeFilter(
        info,
        rawValues,
        splitEscaped,
        (component, raw) =>
          parseFilter(
            { ...component, url: info.url, parts: [], supported: true },
            component.code,
            undefined,
            undefined,
            [raw],
            options,
          ) as ComponentFilter | undefined,
      );
    case 'token':
      return {
        param: code,
        kind: 'token',
        not: modifier === 'not',
        values: rawValues.map((v) => parseToken(code, v)),
      };
    case 'string':
      return {
        param: code,
        kind: 'string',
        match:
          modifier === 'exact' ? 'exact' : modifier === 'contains' ? 'contains' : 'starts-with',
        values: rawValues.map((v) => {
          const value = unescape(v);
          return { value, normalized: normalizeSearchString(value) };
        }),
      };
    case 'reference':
      return {
        param: code,
        kind: 'reference',
        values: [
          ...new Set(rawValues.flatMap((v) => parseReferenceValue(info, v, typeModifier, options))),
        ],
      };
    case 'date':
      return {
        param: code,
        kind: 'date',
        values: rawValues.map((v) => parseDate(code, unescape(v))),
      };
    case 'number':
      return {
        param: code,
        kind: 'number',
        values: rawValues.map((v) => parseNumber(code, unescape(v))),
      };
    case 'quantity':
      return {
        param: code,
        kind: 'quantity',
        values: rawValues.map((v) => parseQuantity(code, v)),
      };
    case 'uri':
      return { param: code, kind: 'uri', values: rawValues.map(unescape) };
    default:
      return undefined;
  }
}

/** The paging parameters: the position in a result, not which resources match. */
const PAGING_PARAMS = new Set(['_count', '_offset', '_cursor']);
/** Parameters that change how the page is written, not which resources it holds. */
const PRESENTATION_PARAMS = new Set(['_format', '_pretty', '_summary', '_elements', '_total']);

/**
 * The same query with `_count` and (when given) `_cursor` set and `_offset` dropped: for the
 * `self`/`first`/`next`/`previous`/`last` links of a searchset Bundle.
 */
export function pageQuery(
  query: SearchQuery,
  page: { count: number; cursor?: string; offset?: number },
): URLSearchParams {
  const out = new URLSearchParams();
  for (const [k, v] of entriesOf(query)) {
    if (!PAGING_PARAMS.has(k)) {
      out.append(k, v);
    }
  }
  out.set('_count', String(page.count));
  if (page.cursor !== undefined) out.set('_cursor', page.cursor);
  else if (page.offset) out.set('_offset', String(page.offset));
  return out;
}

/**
 * What a keyset cursor is bound to: the type and the parameters that choose and order the
 * matches (sorted, so that their order in the URL does not matter), without paging and
 * presentation parameters. A cursor presented with another search is refused.
 */
export function searchScope(resourceType: string, query: SearchQuery): string {
  const kept = entriesOf(query)
    .filter(([k]) => !PAGING_PARAMS.has(k) && !PRESENTATION_PARAMS.has(k))
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .sort();
  return `${resourceType}?${kept.join('&')}`;
}
