import { getExpressionsForResourceType, parseFhirPath, type FhirPathAtom } from '@medplum/core';
import type { SearchParameter } from '@medplum/fhirtypes';
import { allSearchParameterDefinitions, isR4ResourceType } from './fhir-definitions';

/**
 * The search parameters of a resource type, derived from the R4 SearchParameter definitions
 * (plus the SDOH Clinical Care IG's, sdohcc-definitions.ts), never
 * written per resource by hand.
 */

export type SearchParamType =
  | 'number'
  | 'date'
  | 'string'
  | 'token'
  | 'reference'
  | 'composite'
  | 'quantity'
  | 'uri'
  | 'special';

/** One part of a (union) expression, ready to evaluate. */
export interface SearchExpressionPart {
  /** FHIRPath text of the part, e.g. `Task.for` (a trailing `where(resolve() is X)` removed). */
  readonly expression: string;
  readonly parsed: FhirPathAtom;
  /**
   * From `.where(resolve() is Patient)`: keep only references to this type. Evaluated by us
   * rather than by FHIRPath, so that absolute URLs to other servers are recognised too.
   */
  readonly resolveType?: string;
}

export interface SearchParamInfo {
  /** The name used in URLs, e.g. `patient`, `_lastUpdated`. */
  readonly code: string;
  readonly type: SearchParamType;
  /** Canonical URL of the SearchParameter definition. */
  readonly url: string;
  readonly description?: string;
  /** The FHIRPath expression for this resource type only (union parts joined by ` | `). */
  readonly expression: string;
  readonly parts: readonly SearchExpressionPart[];
  /** For reference parameters: the resource types a reference may point at. */
  readonly targets: readonly string[];
  /**
   * Composite parameters: the components, in order, each evaluated on an element the composite's
   * expression selects (`Group.characteristic` → `code`, `value`).
   */
  readonly components?: readonly SearchParamComponent[];
  /** special parameters, `_text`/`_content`/`_query`, and composites of unindexable parts are not supported. */
  readonly supported: boolean;
}

/** One component of a composite parameter: the parameter it is defined by, on a part of the element. */
export interface SearchParamComponent {
  /** The code of the component's own parameter (e.g. `characteristic`). */
  readonly code: string;
  readonly type: SearchParamType;
  readonly targets: readonly string[];
  /** FHIRPath relative to the composite's element, e.g. `value.as(CodeableConcept)`. */
  readonly expression: string;
  readonly parsed: FhirPathAtom;
}

/** The types a composite's component may have: those whose values the index stores. */
const COMPONENT_TYPES: ReadonlySet<string> = new Set([
  'token',
  'string',
  'date',
  'number',
  'quantity',
  'uri',
  'reference',
]);

/** The components of a composite definition, or undefined when one cannot be indexed. */
function componentsOf(param: SearchParameter): SearchParamComponent[] | undefined {
  const components: SearchParamComponent[] = [];
  for (const component of param.component ?? []) {
    const definition = allSearchParameterDefinitions().find((d) => d.url === component.definition);
    if (!definition?.code || !component.expression || !COMPONENT_TYPES.has(definition.type ?? ''))
      return undefined;
    let parsed: FhirPathAtom;
    try {
      parsed = parseFhirPath(component.expression);
    } catch {
      return undefined;
    }
    components.push({
      code: definition.code,
      type: definition.type as SearchParamType,
      targets: [...(definition.target ?? [])],
      expression: component.expression,
      parsed,
    });
  }
  return components.length > 1 ? components : undefined;
}

/** Parameters every resource has (FHIR R4 "Resource" search parameters) that we support. */
const RESOURCE_LEVEL = new Set(['_id', '_lastUpdated', '_tag', '_profile', '_security', '_source']);
/** Defined for every resource but not supported here (full-text and named queries). */
const RESOURCE_LEVEL_UNSUPPORTED = new Set(['_text', '_content', '_query']);

const RESOLVE_IS = /^(.*)\.where\(\(?resolve\(\) is ([A-Z][A-Za-z]*)\)?\)$/;

const cache = new Map<string, ReadonlyMap<string, SearchParamInfo>>();

function partsFor(resourceType: string, expression: string): SearchExpressionPart[] {
  const prefix = new RegExp(`^\\(*${resourceType}\\.`);
  const parts: SearchExpressionPart[] = [];
  // A composite may select the resource itself (`Observation` of `code-value-quantity`), which
  // the per-type split leaves out.
  if (expression.split('|').some((part) => part.trim() === resourceType)) {
    parts.push({ expression: resourceType, parsed: parseFhirPath(resourceType) });
  }
  for (const atom of getExpressionsForResourceType(resourceType, expression)) {
    const text = atom.toString();
    if (!prefix.test(text)) {
      continue; // e.g. `Goal.subject.where(resolve() is Patient)` listed under "Patient"
    }
    const resolve = RESOLVE_IS.exec(text);
    if (resolve) {
      parts.push({
        expression: resolve[1],
        parsed: parseFhirPath(resolve[1]),
        resolveType: resolve[2],
      });
    } else {
      parts.push({ expression: text, parsed: parseFhirPath(text) });
    }
  }
  return parts;
}

function build(resourceType: string): Map<string, SearchParamInfo> {
  const result = new Map<string, SearchParamInfo>();
  const add = (param: SearchParameter, expressionOverride?: string): void => {
    const type = param.type as SearchParamType;
    const components = type === 'composite' ? componentsOf(param) : undefined;
    const unsupported =
      (type === 'composite' && !components) ||
      type === 'special' ||
      RESOURCE_LEVEL_UNSUPPORTED.has(param.code);
    const expression = expressionOverride ?? param.expression;
    const parts = !unsupported && expression ? partsFor(resourceType, expression) : [];
    const supported = !unsupported && parts.length > 0;
    result.set(param.code, {
      ...(components ? { components } : {}),
      code: param.code,
      type,
      url: param.url,
      description: param.description,
      expression: parts.map((p) => p.expression).join(' | ') || expression || '',
      parts,
      targets: [...(param.target ?? [])],
      supported,
    });
  };
  for (const param of allSearchParameterDefinitions()) {
    const base: readonly string[] = param.base ?? [];
    if (base.includes('Resource') || base.includes('DomainResource')) {
      if (RESOURCE_LEVEL.has(param.code) && param.expression) {
        add(param, param.expression.replace(/^Resource\./, `${resourceType}.`));
      } else if (RESOURCE_LEVEL_UNSUPPORTED.has(param.code)) {
        add(param);
      }
    } else if (base.includes(resourceType)) {
      add(param);
    }
  }
  return result;
}

/**
 * The search parameters of an R4 resource type, by code. Includes unsupported ones (special,
 * `_text`..., a composite with a part the index cannot hold) flagged `supported: false` so that a request naming them can be told
 * "not supported" rather than "unknown". Unknown resource type → empty map.
 */
export function searchParametersFor(resourceType: string): ReadonlyMap<string, SearchParamInfo> {
  let params = cache.get(resourceType);
  if (!params) {
    params = isR4ResourceType(resourceType) ? build(resourceType) : new Map();
    cache.set(resourceType, params);
  }
  return params;
}

/** One search parameter of a resource type, if it exists. */
export function searchParameterFor(
  resourceType: string,
  code: string,
): SearchParamInfo | undefined {
  return searchParametersFor(resourceType).get(code);
}

/** The supported search parameters only, sorted by code (what a CapabilityStatement lists). */
export function supportedSearchParameters(resourceType: string): SearchParamInfo[] {
  return [...searchParametersFor(resourceType).values()]
    .filter((p) => p.supported)
    .sort((a, b) => a.code.localeCompare(b.code));
}
