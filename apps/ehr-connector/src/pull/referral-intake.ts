import type { Resource } from '@carerelay/fhir-client';
import { PLACER_TYPE, identitySystem } from '../fhir/ehr-identity';
import { relativeTo } from '../fhir/fhir-clients';
import type { EhrEndpoint } from '../registry/ehr-endpoint.registry';

export interface PulledReferral {
  task: Resource;
  serviceRequest?: Resource;
  patient?: Resource;
  consents: Resource[];
}

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/**
 * Rewrites every reference: to a resource of the bundle → its urn:uuid; any other relative one
 * → an absolute URL on the EHR (references across servers are absolute).
 */
function rewrite<T>(value: T, ehrBase: string, urns: Map<string, string>): T {
  if (Array.isArray(value)) return value.map((v) => rewrite(v, ehrBase, urns)) as T;
  if (!value || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    if (key === 'reference' && typeof child === 'string') {
      const local = relativeTo(child, ehrBase);
      out[key] = local ? (urns.get(local) ?? `${ehrBase}/${local}`) : child;
    } else out[key] = rewrite(child, ehrBase, urns);
  }
  return out as T;
}

/**
 * The transaction Bundle that brings one EHR referral into CareRelay: Task, ServiceRequest,
 * Patient and Consent, each a conditional create on its placer identifier (the EHR's base URL +
 * type, and its id there), so that a second pull of the same Task changes nothing. The Task is
 * requested by the EHR's organization and owned by the platform in CareRelay.
 */
export function intakeBundle(
  referral: PulledReferral,
  endpoint: EhrEndpoint,
  platformOrganizationId: string,
): Resource {
  const base = endpoint.baseUrl;
  const members = [referral.task, referral.serviceRequest, referral.patient, ...referral.consents]
    .filter((r): r is Resource => r !== undefined)
    .map((resource, index) => ({ resource, urn: `urn:uuid:${crypto.randomUUID()}`, index }));
  const urns = new Map(members.map((m) => [`${m.resource.resourceType}/${m.resource.id}`, m.urn]));
  const requester = { reference: `Organization/${endpoint.organizationId}` };
  const entries = members.map(({ resource, urn }) => {
    const { id, meta: _meta, ...rest } = clone(resource);
    const system = identitySystem(base, resource.resourceType);
    const copy: Resource = {
      ...rewrite(rest, base, urns),
      resourceType: resource.resourceType,
    };
    copy.identifier = [
      ...((copy.identifier as unknown[] | undefined) ?? []),
      { type: PLACER_TYPE, system, value: id },
    ];
    if (copy.resourceType === 'Task') {
      copy.requester = { ...requester, display: resource.requester?.display };
      copy.owner = { reference: `Organization/${platformOrganizationId}` };
      if (!copy.requester.display) delete copy.requester.display;
    }
    if (copy.resourceType === 'ServiceRequest') copy.requester = requester;
    return {
      fullUrl: urn,
      resource: copy,
      request: {
        method: 'POST',
        url: resource.resourceType,
        ifNoneExist: `identifier=${system}|${id}`,
      },
    };
  });
  return { resourceType: 'Bundle', type: 'transaction', entry: entries };
}
