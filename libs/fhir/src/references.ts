import type { Reference } from '@medplum/fhirtypes';

/**
 * References: parsing, normalising, collecting and rewriting. Pure functions on plain JSON.
 */

export const FHIR_ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;
const TYPE = '[A-Z][A-Za-z]{0,63}';
const ID = '[A-Za-z0-9\\-.]{1,64}';
const RELATIVE = new RegExp(`^(${TYPE})/(${ID})(?:/_history/(${ID}))?$`);
const ABSOLUTE = new RegExp(`^(https?://[^\\s?#]+?)/(${TYPE})/(${ID})(?:/_history/(${ID}))?$`);
const URN_UUID =
  /^urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const URN_OID = /^urn:oid:[0-2](\.(0|[1-9][0-9]*))+$/;

export type ParsedReference =
  | {
      kind: 'relative';
      reference: string;
      resourceType: string;
      id: string;
      version?: string;
    }
  | {
      kind: 'absolute';
      reference: string;
      baseUrl: string;
      resourceType: string;
      id: string;
      version?: string;
    }
  | { kind: 'urn'; reference: string }
  | { kind: 'contained'; reference: string; id: string };

/**
 * Parses `Type/id`, `Type/id/_history/n`, `http(s)://base/Type/id[/_history/n]`, `urn:uuid:…`,
 * `urn:oid:…` and `#contained-id`. Returns undefined for anything else (including an empty
 * string, a search URL `Patient?identifier=…`, or a bare id).
 */
export function parseReference(reference: unknown): ParsedReference | undefined {
  if (typeof reference !== 'string' || reference.length === 0 || reference.length > 2048) {
    return undefined;
  }
  let match = RELATIVE.exec(reference);
  if (match) {
    return withVersion(
      { kind: 'relative', reference, resourceType: match[1], id: match[2] },
      match[3],
    );
  }
  match = ABSOLUTE.exec(reference);
  if (match) {
    return withVersion(
      {
        kind: 'absolute',
        reference,
        baseUrl: match[1],
        resourceType: match[2],
        id: match[3],
      },
      match[4],
    );
  }
  if (URN_UUID.test(reference) || URN_OID.test(reference)) {
    return { kind: 'urn', reference };
  }
  if (
    reference.startsWith('#') &&
    (reference === '#' || FHIR_ID_PATTERN.test(reference.slice(1)))
  ) {
    return { kind: 'contained', reference, id: reference.slice(1) };
  }
  return undefined;
}

function withVersion(parsed: ParsedReference, version: string | undefined): ParsedReference {
  if (version !== undefined && (parsed.kind === 'relative' || parsed.kind === 'absolute')) {
    parsed.version = version;
  }
  return parsed;
}

/** The resource type a reference points at, when it can be told from the reference itself. */
export function referenceType(reference: Reference | undefined): string | undefined {
  const parsed = parseReference(reference?.reference);
  if (parsed && (parsed.kind === 'relative' || parsed.kind === 'absolute')) {
    return parsed.resourceType;
  }
  return reference?.type;
}

function trimSlash(url: string): string {
  return url.endsWith('/') ? url.slice(0, -1) : url;
}

/**
 * The form references take in the search index and in search values:
 * - relative `Type/id` (a version suffix is dropped);
 * - an absolute URL on one of `localBaseUrls` (this server) becomes relative `Type/id`;
 * - any other absolute URL stays absolute (a resource on another server), version dropped;
 * - `urn:…`, `#contained` and unparseable values give undefined (they are not searchable).
 */
export function normalizeReference(
  reference: unknown,
  localBaseUrls: readonly string[] = [],
): string | undefined {
  const parsed = parseReference(reference);
  if (!parsed) {
    return undefined;
  }
  if (parsed.kind === 'relative') {
    return `${parsed.resourceType}/${parsed.id}`;
  }
  if (parsed.kind === 'absolute') {
    const local = localBaseUrls.some((base) => trimSlash(base) === parsed.baseUrl);
    return local
      ? `${parsed.resourceType}/${parsed.id}`
      : `${parsed.baseUrl}/${parsed.resourceType}/${parsed.id}`;
  }
  return undefined;
}

export interface FoundReference {
  /** FHIRPath-like location, e.g. `Task.focus` or `Task.output[0].valueReference`. */
  path: string;
  reference: Reference;
}

/**
 * Every Reference in a resource (including contained resources), found by walking the JSON: an
 * object whose `reference` is a string is a Reference. Iterative, so hostile nesting cannot
 * overflow the stack.
 */
export function collectReferences(resource: unknown): FoundReference[] {
  const found: FoundReference[] = [];
  if (typeof resource !== 'object' || resource === null) {
    return found;
  }
  const root =
    typeof (resource as { resourceType?: unknown }).resourceType === 'string'
      ? String((resource as { resourceType: string }).resourceType)
      : '$this';
  const stack: [unknown, string][] = [[resource, root]];
  while (stack.length > 0) {
    const [value, path] = stack.pop() as [unknown, string];
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) {
        stack.push([value[i], `${path}[${i}]`]);
      }
      continue;
    }
    if (typeof value !== 'object' || value === null) {
      continue;
    }
    const record = value as Record<string, unknown>;
    if (typeof record.reference === 'string') {
      found.push({ path, reference: record as Reference });
    }
    const keys = Object.keys(record);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i];
      if (key === 'reference' && typeof record.reference === 'string') {
        continue;
      }
      stack.push([record[key], `${path}.${key}`]);
    }
  }
  return found;
}

export type ReferenceMap = ReadonlyMap<string, string> | Readonly<Record<string, string>>;

function lookup(map: ReferenceMap, key: string): string | undefined {
  if (map instanceof Map) {
    return map.get(key);
  }
  const record = map as Readonly<Record<string, string>>;
  return Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined;
}

function mapKeys(map: ReferenceMap): string[] {
  return map instanceof Map ? [...map.keys()] : Object.keys(map);
}

const XHTML_ATTR = /(\s(?:href|src)=")([^"]*)(")/g;

/**
 * A deep copy of `resource` with references rewritten through `map` (e.g. `urn:uuid:…` →
 * `Patient/123` after a transaction has assigned ids). Per FHIR transaction rules this rewrites
 * Reference.reference values, any other string value that equals a `urn:` key exactly
 * (uri/url/canonical elements), and `href`/`src` attributes in the narrative. Other values are
 * left untouched.
 */
export function rewriteReferences<T>(resource: T, map: ReferenceMap): T {
  const urnKeys = new Set(mapKeys(map).filter((k) => k.startsWith('urn:')));
  const rewrite = (
    value: unknown,
    key: string | undefined,
    parentIsReference: boolean,
  ): unknown => {
    if (typeof value === 'string') {
      if ((key === 'reference' && parentIsReference) || urnKeys.has(value)) {
        return lookup(map, value) ?? value;
      }
      if (key === 'div' && urnKeys.size > 0) {
        return value.replace(XHTML_ATTR, (all, pre: string, url: string, post: string) =>
          urnKeys.has(url) ? `${pre}${lookup(map, url)}${post}` : all,
        );
      }
      return value;
    }
    if (Array.isArray(value)) {
      return value.map((item) => rewrite(item, key, false));
    }
    if (typeof value === 'object' && value !== null) {
      const record = value as Record<string, unknown>;
      const isReference = typeof record.reference === 'string';
      const copy: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(record)) {
        copy[k] = rewrite(v, k, isReference);
      }
      return copy;
    }
    return value;
  };
  return rewrite(resource, undefined, false) as T;
}
