import { getElementDefinition } from '@medplum/core';
import type {
  CapabilityStatement,
  CapabilityStatementRestResource,
  CapabilityStatementRestResourceSearchParam,
} from '@medplum/fhirtypes';
import { isR4ResourceType } from './fhir-definitions';
import { isSupportedResourceType, SUPPORTED_RESOURCE_TYPES } from './resource-validation';
import { SDOHCC_COORDINATION_PLATFORM_CAPABILITY } from './sdohcc-definitions';
import {
  searchParametersFor,
  type SearchParamInfo,
  supportedSearchParameters,
} from './search-parameters';
import { MAX_CHAIN_DEPTH } from './search-chain';
import { MAX_INCLUDE_ITERATIONS } from './search-request';

/**
 * Builds the server's CapabilityStatement from what is actually implemented: the resource types
 * and interactions the app passes, the search parameters derived from the definitions (every
 * supported one, or the subset the app names), and the includes (each checked to be a real
 * reference search parameter). A claim that cannot be true throws an Error at startup.
 */

export type TypeInteraction =
  | 'read'
  | 'vread'
  | 'update'
  | 'patch'
  | 'delete'
  | 'history-instance'
  | 'history-type'
  | 'create'
  | 'search-type';

export type SystemInteraction = 'transaction' | 'batch' | 'search-system' | 'history-system';

export interface ResourceCapability {
  type: string;
  interactions: readonly TypeInteraction[];
  /** Search parameter codes; default: every supported one (when `search-type` is offered). */
  searchParams?: readonly string[];
  /** `Type:param` or `Type:param:Target`. */
  searchInclude?: readonly string[];
  searchRevInclude?: readonly string[];
  /** Default 'versioned-update' (If-Match honoured). */
  versioning?: 'no-version' | 'versioned' | 'versioned-update';
  conditionalCreate?: boolean;
  /** Supported profiles (canonical URLs). */
  supportedProfile?: readonly string[];
  /** Operations on the type or its instances (`$status` is `status`). */
  operations?: readonly { name: string; definition: string; documentation?: string }[];
  documentation?: string;
  /**
   * The generic search's extras: chained reference parameters (up to MAX_CHAIN_DEPTH levels) and
   * `_has`, `_sort` on the
   * parameters of a comparable type, `_include:iterate`/`_revinclude:iterate`. Each is said in
   * the documentation of the parameter (`CHAINABLE`, `SORTABLE`) or of the type (`ITERATE`).
   */
  searchExtras?: boolean;
}

/** The documentation of a reference parameter that may be chained: `<name>[:Type].<param>`. */
export const CHAINABLE = `Chainable, up to ${MAX_CHAIN_DEPTH} levels`;
/** The documentation of a parameter `_sort` orders by. */
export const SORTABLE = 'Sortable (_sort, - descending)';
/** The documentation of a type whose includes may be iterated. */
export const ITERATE = '_include:iterate and _revinclude:iterate';
/**
 * The documentation of a type whose search pages by keyset cursors: the links of a searchset
 * carry `_cursor`, so writes between two pages make none skipped or repeated; and `_lastUpdated`
 * searches read only what no transaction still in flight can add behind (pollable).
 */
export const KEYSET_PAGING =
  'Paging by keyset cursors: the self, first, previous, next and last links carry an opaque _cursor; nothing is skipped or repeated while resources change between pages';
export const LAST_UPDATED_POLLING =
  'A _lastUpdated filter or sort reads up to the oldest write still in flight, so polling _lastUpdated=gt<last seen> misses no late commit';
/**
 * The documentation of a type whose `_history` pages by keyset cursors and may be polled with
 * `_since`: the Bundle's meta.lastUpdated is the instant it read up to, the next poll's `_since`.
 */
export const HISTORY_POLLING =
  '_history pages by keyset cursors too; with _since it reads up to the oldest write still in flight and gives that instant as the Bundle meta.lastUpdated, the _since of the next poll, which then misses and repeats no version';
/** The parameter types `_sort` orders by (libs/fhir search-request parseSort). */
const SORTABLE_TYPES = new Set(['date', 'token', 'string', 'number', 'quantity', 'uri']);

export interface CapabilityOptions {
  /** The FHIR base URL, e.g. http://localhost:8080/fhir */
  baseUrl: string;
  resources: readonly ResourceCapability[];
  systemInteractions?: readonly SystemInteraction[];
  software?: { name: string; version?: string };
  /** Default now. */
  date?: string;
  publisher?: string;
  /** CapabilityStatements this one conforms to. Default: the SDOHCC Coordination Platform one. */
  instantiates?: readonly string[];
  /** SMART Backend Services (client_credentials + private_key_jwt) with this token endpoint. */
  smartBackendServices?: { tokenUrl: string };
  cors?: boolean;
}

/** What CareRelay's FHIR API offers by default for each IG resource type. */
export const DEFAULT_INTERACTIONS: readonly TypeInteraction[] = [
  'read',
  'vread',
  'create',
  'update',
  'search-type',
  'history-instance',
];

/** The includes the IG's Coordination Platform CapabilityStatement asks for. */
export const DEFAULT_INCLUDES: Readonly<Record<string, readonly string[]>> = {
  Task: ['Task:focus', 'Task:output'],
  ServiceRequest: [
    'ServiceRequest:supporting-info',
    'ServiceRequest:patient',
    'ServiceRequest:requester',
    'ServiceRequest:performer',
    'ServiceRequest:pertains-to-goal',
  ],
  HealthcareService: ['HealthcareService:location'],
  Consent: ['Consent:source-reference:DocumentReference'],
  Group: ['Group:member'],
  PractitionerRole: ['PractitionerRole:organization', 'PractitionerRole:practitioner'],
};

/** The IG resource types with DEFAULT_INTERACTIONS and DEFAULT_INCLUDES. */
export function defaultResourceCapabilities(): ResourceCapability[] {
  return SUPPORTED_RESOURCE_TYPES.map((type) => ({
    type,
    interactions: DEFAULT_INTERACTIONS,
    searchInclude: DEFAULT_INCLUDES[type] ?? [],
    conditionalCreate: true,
  }));
}

/**
 * True when the parameter finds `Type/id` references: not when every element it reads is a
 * canonical (kept as its URL, e.g. QuestionnaireResponse.questionnaire), which no `_revinclude`
 * can follow back to a resource.
 */
function followsReferences(source: string, info: SearchParamInfo): boolean {
  return info.parts.some((part) => {
    const path = part.expression.split('.');
    if (path.length !== 2 || path[0] !== source || !/^[a-zA-Z]+$/.test(path[1])) return true;
    const element = getElementDefinition(source, path[1]);
    return !element || element.type.some((t) => t.code !== 'canonical');
  });
}

/**
 * The `_revinclude` values that can find resources of `target`: every supported reference
 * parameter of the `sourceTypes` (the types the server stores) that may point at it, FHIR's
 * "any type" included, except those on canonical elements. Sorted by source type, then code.
 */
export function revIncludesFor(target: string, sourceTypes: readonly string[]): string[] {
  const values: string[] = [];
  for (const source of [...sourceTypes].sort()) {
    for (const info of supportedSearchParameters(source)) {
      if (info.type !== 'reference') continue;
      if (info.targets.length > 0 && !info.targets.includes(target)) continue;
      if (followsReferences(source, info)) values.push(`${source}:${info.code}`);
    }
  }
  return values;
}

function checkInclude(type: string, value: string, reverse: boolean): void {
  const [source, param, target] = value.split(':');
  const info = isR4ResourceType(source) ? searchParametersFor(source).get(param) : undefined;
  if (!info || info.type !== 'reference' || !info.supported) {
    throw new Error(`CapabilityStatement: ${value} is not a reference search parameter`);
  }
  if (!reverse && source !== type) {
    throw new Error(`CapabilityStatement: _include ${value} listed under ${type}`);
  }
  if (target !== undefined && info.targets.length > 0 && !info.targets.includes(target)) {
    throw new Error(`CapabilityStatement: ${source}.${param} cannot reference ${target}`);
  }
  if (reverse && info.targets.length > 0 && !info.targets.includes(type)) {
    throw new Error(`CapabilityStatement: _revinclude ${value} cannot point at ${type}`);
  }
}

function searchParamsOf(
  capability: ResourceCapability,
): CapabilityStatementRestResourceSearchParam[] {
  const all = supportedSearchParameters(capability.type);
  let chosen = all;
  if (capability.searchParams) {
    chosen = capability.searchParams.map((code) => {
      const info = all.find((p) => p.code === code);
      if (!info) {
        throw new Error(
          `CapabilityStatement: ${capability.type} has no supported search parameter "${code}"`,
        );
      }
      return info;
    });
  }
  return chosen.map((p) => {
    let documentation = p.expression;
    // A chain goes to the types this server stores: said only where there is one.
    const chainTargets = p.targets.filter((t) => isSupportedResourceType(t));
    if (capability.searchExtras && p.type === 'reference' && chainTargets.length > 0) {
      documentation += `. ${CHAINABLE}: ${p.code}[:Type].<parameter of the target>, Type one of ${chainTargets.join(', ')} (needed when the parameter differs between them)`;
    }
    if (capability.searchExtras && SORTABLE_TYPES.has(p.type)) {
      documentation += `. ${SORTABLE}`;
    }
    return { name: p.code, definition: p.url, type: p.type, documentation };
  });
}

function resourceEntry(capability: ResourceCapability): CapabilityStatementRestResource {
  if (!isR4ResourceType(capability.type)) {
    throw new Error(`CapabilityStatement: unknown resource type ${capability.type}`);
  }
  const searchable = capability.interactions.includes('search-type');
  for (const inc of capability.searchInclude ?? []) {
    checkInclude(capability.type, inc, false);
  }
  for (const inc of capability.searchRevInclude ?? []) {
    checkInclude(capability.type, inc, true);
  }
  if (!searchable && (capability.searchInclude?.length || capability.searchRevInclude?.length)) {
    throw new Error(`CapabilityStatement: ${capability.type} lists includes without search-type`);
  }
  const entry: CapabilityStatementRestResource = {
    type: capability.type as CapabilityStatementRestResource['type'],
    profile: `http://hl7.org/fhir/StructureDefinition/${capability.type}`,
    interaction: capability.interactions.map((code) => ({ code })),
    versioning: capability.versioning ?? 'versioned-update',
    readHistory: capability.interactions.includes('vread'),
    updateCreate: false,
    conditionalCreate: capability.conditionalCreate ?? false,
    conditionalUpdate: false,
    conditionalDelete: 'not-supported',
  };
  if (capability.supportedProfile?.length) {
    entry.supportedProfile = [...capability.supportedProfile];
  }
  if (capability.operations?.length) {
    entry.operation = capability.operations.map((o) => ({ ...o }));
  }
  const documentation = [capability.documentation];
  if (capability.searchExtras && searchable) {
    documentation.push(
      `Search: chained reference parameters (up to ${MAX_CHAIN_DEPTH} levels, e.g. focus:ServiceRequest.patient.identifier) and reverse chaining (_has:Type:reference:parameter, nestable), only through resources the client may read; composite parameters as code$value tuples matched on one element; _sort by the parameters marked sortable and _lastUpdated (ties by id), ${ITERATE} of the listed includes (at most ${MAX_INCLUDE_ITERATIONS} rounds). ${KEYSET_PAGING}. ${LAST_UPDATED_POLLING}.`,
    );
  }
  if (capability.searchExtras && capability.interactions.includes('history-type')) {
    documentation.push(`${HISTORY_POLLING}.`);
  }
  if (documentation.some(Boolean)) {
    entry.documentation = documentation.filter(Boolean).join(' ');
  }
  if (searchable) {
    entry.searchParam = searchParamsOf(capability);
    if (capability.searchInclude?.length) {
      entry.searchInclude = [...capability.searchInclude];
    }
    if (capability.searchRevInclude?.length) {
      entry.searchRevInclude = [...capability.searchRevInclude];
    }
  }
  return entry;
}

export function buildCapabilityStatement(options: CapabilityOptions): CapabilityStatement {
  const seen = new Set<string>();
  for (const r of options.resources) {
    if (seen.has(r.type)) {
      throw new Error(`CapabilityStatement: ${r.type} listed twice`);
    }
    seen.add(r.type);
  }
  const rest: NonNullable<CapabilityStatement['rest']>[number] = {
    mode: 'server',
    resource: options.resources.map(resourceEntry),
  };
  if (options.systemInteractions?.length) {
    rest.interaction = options.systemInteractions.map((code) => ({ code }));
  }
  if (options.smartBackendServices) {
    rest.security = {
      cors: options.cors ?? false,
      service: [
        {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/restful-security-service',
              code: 'SMART-on-FHIR',
            },
          ],
          text: 'SMART Backend Services (client_credentials, private_key_jwt)',
        },
      ],
      extension: [
        {
          url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
          extension: [{ url: 'token', valueUri: options.smartBackendServices.tokenUrl }],
        },
      ],
      description:
        'OAuth 2.0 client credentials with a signed JWT assertion (SMART Backend Services); system/ scopes.',
    };
  }
  const statement: CapabilityStatement = {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: options.date ?? new Date().toISOString(),
    kind: 'instance',
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json', 'application/fhir+xml', 'xml'],
    implementation: {
      description: 'CareRelay Coordination Platform FHIR API',
      url: options.baseUrl,
    },
    instantiates: [...(options.instantiates ?? [SDOHCC_COORDINATION_PLATFORM_CAPABILITY])],
    rest: [rest],
  };
  if (options.publisher) {
    statement.publisher = options.publisher;
  }
  if (options.software) {
    statement.software = { name: options.software.name };
    if (options.software.version) {
      statement.software.version = options.software.version;
    }
  }
  return statement;
}
