import type { Coding, Resource } from '@medplum/fhirtypes';
import { summaryElementsOf } from './fhir-definitions';
import { badRequest } from './operation-outcome';

/** `_summary` and `_elements` of a read or search (R4 search page, 3.1.1.5.8–9). */
export interface Subsetting {
  summary?: 'true' | 'text' | 'data';
  /** Top-level element names (`_elements=status,owner`). */
  elements?: readonly string[];
}

/** The tag R4 asks a server to put on a resource it returns incomplete. */
export const SUBSETTED: Coding = {
  system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue',
  code: 'SUBSETTED',
  display: 'subsetted',
};

const ALWAYS = new Set(['resourceType', 'id', 'meta']);
const ELEMENT_NAME = /^[a-z][A-Za-z0-9]*$/;

type Query = URLSearchParams | Readonly<Record<string, unknown>>;

function valuesOf(query: Query, name: string): string[] {
  if (query instanceof URLSearchParams) return query.getAll(name);
  const value = query[name];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

/**
 * The subsetting a query asks for; a 400 for a value R4 does not define or an element name that
 * is not one. `_summary=count` and `false` are not subsetting (search handles count).
 */
export function parseSubsetting(query: Query): Subsetting {
  const result: Subsetting = {};
  const summaries = valuesOf(query, '_summary');
  if (summaries.length > 1) throw badRequest('_summary may be given once', undefined, 'value');
  const summary = summaries[0];
  if (summary === 'true' || summary === 'text' || summary === 'data') result.summary = summary;
  else if (summary !== undefined && summary !== 'false' && summary !== 'count')
    throw badRequest(`_summary must be true, text, data, count or false`, undefined, 'value');
  const elements = valuesOf(query, '_elements')
    .flatMap((v) => v.split(','))
    .map((v) => v.trim());
  if (elements.length > 0) {
    const bad = elements.find((e) => !ELEMENT_NAME.test(e));
    if (bad !== undefined)
      throw badRequest(
        `_elements: "${bad.slice(0, 64)}" is not an element name`,
        undefined,
        'value',
      );
    if (result.summary)
      throw badRequest('_summary and _elements cannot be combined', undefined, 'value');
    result.elements = elements;
  }
  return result;
}

/** Does JSON key `key` hold element `name` (`valueString` holds `value[x]`)? */
function holds(name: string, key: string): boolean {
  if (!name.endsWith('[x]')) return name === key;
  const base = name.slice(0, -3);
  return key.startsWith(base) && /^[A-Z]/.test(key.slice(base.length));
}

/**
 * The resource as the subsetting asks, tagged SUBSETTED when anything was left out. Summary
 * elements come from the R4 definitions; mandatory elements are always kept, as R4 advises.
 */
export function subsetResource<T extends Resource>(resource: T, subsetting: Subsetting): T {
  const { summary, elements } = subsetting;
  if (!summary && !elements) return resource;
  const definition = summaryElementsOf(resource.resourceType);
  const mandatory = [...(definition?.mandatory ?? [])];
  let keep: (key: string) => boolean;
  if (summary === 'data') keep = (key) => key !== 'text';
  else if (summary === 'text')
    keep = (key) => key === 'text' || mandatory.some((name) => holds(name, key));
  else {
    const named = (elements ?? []).map((name) =>
      definition?.choices.has(name) ? `${name}[x]` : name,
    );
    const wanted = [...(summary === 'true' ? (definition?.summary ?? []) : named), ...mandatory];
    keep = (key) => wanted.some((name) => holds(name, key));
  }
  const record = resource as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  let dropped = false;
  for (const [key, value] of Object.entries(record)) {
    if (ALWAYS.has(key) || keep(key)) out[key] = value;
    else dropped = true;
  }
  if (dropped) {
    const meta = (resource.meta ?? {}) as NonNullable<Resource['meta']>;
    out.meta = { ...meta, tag: [...(meta.tag ?? []), SUBSETTED] };
  }
  return out as unknown as T;
}
