/**
 * References to resources on an EHR's own FHIR server (absolute URLs on another base than
 * CareRelay's), as an EHR that follows the SDOH Clinical Care IG sends them when it posts only a
 * Task: `Task.focus` = `https://ehr.example.org/fhir/ServiceRequest/123`. Pure functions.
 */

const RELATIVE_TAIL =
  /^([A-Z][A-Za-z]{0,63})\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

/**
 * A FHIR base URL in one spelling: scheme and host lower case, default port dropped, no trailing
 * slash, no query or fragment; undefined when it is not an http(s) URL.
 */
export function normalizeBaseUrl(url: string | undefined): string | undefined {
  if (typeof url !== 'string' || url.length === 0 || url.length > 2048) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return undefined;
  if (parsed.username || parsed.password || parsed.search || parsed.hash) return undefined;
  const path = parsed.pathname.replace(/\/+$/, '');
  return `${parsed.protocol}//${parsed.host}${path}`;
}

/** A resource on a remote FHIR server, named by an absolute reference. */
export interface RemoteReference {
  /** The base it is on, normalised (normalizeBaseUrl). */
  baseUrl: string;
  resourceType: string;
  id: string;
  /** The absolute URL, normalised, without a version. */
  url: string;
}

/**
 * The resource an absolute reference names on `baseUrl`, when the reference is on that base:
 * `<base>/<Type>/<id>` (a `/_history/n` suffix is allowed and dropped). Comparison is on the
 * normalised base, so `HTTPS://EHR.example.org:443/fhir/` matches `https://ehr.example.org/fhir`.
 */
export function referenceOnBase(
  reference: string | undefined,
  baseUrl: string,
): RemoteReference | undefined {
  const base = normalizeBaseUrl(baseUrl);
  if (!base || typeof reference !== 'string' || !/^https?:\/\//i.test(reference)) return undefined;
  // The reference's own origin is normalised as a base would be; the path after it is kept.
  let parsed: URL;
  try {
    parsed = new URL(reference);
  } catch {
    return undefined;
  }
  if (parsed.search || parsed.hash || parsed.username || parsed.password) return undefined;
  const normalized = `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  if (!normalized.startsWith(`${base}/`)) return undefined;
  const match = RELATIVE_TAIL.exec(normalized.slice(base.length + 1));
  if (!match) return undefined;
  const [, resourceType, id] = match;
  return { baseUrl: base, resourceType, id, url: `${base}/${resourceType}/${id}` };
}

/**
 * Whether `reference` is an absolute URL on a server other than this one (`localBaseUrls`): the
 * kind of reference that must be on a registered EHR endpoint's base.
 */
export function isRemoteReference(
  reference: string | undefined,
  localBaseUrls: readonly string[],
): boolean {
  if (typeof reference !== 'string' || !/^https?:\/\//i.test(reference)) return false;
  return !localBaseUrls.some((base) => referenceOnBase(reference, base) !== undefined);
}

/**
 * The endpoint (of those given, e.g. an organization's registered EHR endpoints) whose FHIR base
 * the absolute reference is on, with the resource it names there; the longest base wins when
 * several match (`/fhir` and `/fhir/r4` on one host).
 */
export function endpointOfReference<E extends { baseUrl: string }>(
  reference: string | undefined,
  endpoints: readonly E[],
): { endpoint: E; target: RemoteReference } | undefined {
  let best: { endpoint: E; target: RemoteReference } | undefined;
  for (const endpoint of endpoints) {
    const target = referenceOnBase(reference, endpoint.baseUrl);
    if (target && (!best || target.baseUrl.length > best.target.baseUrl.length))
      best = { endpoint, target };
  }
  return best;
}

/** The Task elements whose references may name a resource on the requester's EHR. */
export const REMOTE_REFERENCE_ELEMENTS = ['focus', 'for'] as const;

/** `Reference.identifier` of a local copy: the copied resource's placer identifier. */
export const PLACER_IDENTIFIER_TYPE = {
  coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'PLAC' }],
  text: 'Placer Identifier',
};

/**
 * How a local copy of a remote resource names its original: the identifier system is the remote
 * base + `/<Type>` and the value its id there (`https://ehr.example.org/fhir/ServiceRequest|123`).
 */
export const remoteIdentifierSystem = (baseUrl: string, resourceType: string): string =>
  `${baseUrl}/${resourceType}`;

interface ReferenceLike {
  reference?: string;
  identifier?: { system?: string; value?: string };
}

/**
 * Whether `after` is `before` made local: `before` an absolute URL on another server, `after` a
 * relative reference to a resource of the same type here that keeps the original as its
 * `identifier` (system `<remote base>/<Type>`, value the remote id). The platform may make this
 * change on a Task it owns; nothing else about the element.
 */
export function isLocalizedReference(
  before: ReferenceLike | undefined,
  after: ReferenceLike | undefined,
  localBaseUrls: readonly string[],
): boolean {
  const original = before?.reference;
  if (!original || !isRemoteReference(original, localBaseUrls)) return false;
  const local = after?.reference;
  const match = local ? RELATIVE_TAIL.exec(local) : null;
  if (!match) return false;
  const system = after?.identifier?.system;
  const value = after?.identifier?.value;
  if (!system || !value) return false;
  // The system is the original's base (in any spelling of it) + `/<Type>`.
  const slash = system.lastIndexOf('/');
  const target = referenceOnBase(original, system.slice(0, slash));
  return (
    target !== undefined &&
    target.resourceType === match[1] &&
    system.slice(slash + 1) === target.resourceType &&
    value === target.id
  );
}
