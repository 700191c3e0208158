import type { Resource } from '@carerelay/fhir-client';
import { referenceOnBase } from '@carerelay/fhir';
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

interface BundleEntry {
  fullUrl: string;
  resource: Resource;
  request: { method: string; url: string; ifNoneExist?: string; ifMatch?: string };
}

/**
 * Conditional creates of CareRelay copies of EHR resources, each on its placer identifier (the
 * EHR's base URL + type, and its id there), so that a second intake of the same resources changes
 * nothing; `urns` maps each EHR `Type/id` to its entry's fullUrl.
 */
function copyEntries(
  resources: Resource[],
  endpoint: EhrEndpoint,
  platformOrganizationId: string,
): { entries: BundleEntry[]; urns: Map<string, string> } {
  const base = endpoint.baseUrl;
  const members = resources.map((resource) => ({
    resource,
    urn: `urn:uuid:${crypto.randomUUID()}`,
  }));
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
  return { entries, urns };
}

const present = (r: Resource | undefined): r is Resource => r !== undefined;

/**
 * The transaction Bundle that brings one EHR referral into CareRelay: Task, ServiceRequest,
 * Patient and Consent, each a conditional create on its placer identifier, so that a second pull
 * of the same Task changes nothing. The Task is requested by the EHR's organization and owned by
 * the platform in CareRelay.
 */
export function intakeBundle(
  referral: PulledReferral,
  endpoint: EhrEndpoint,
  platformOrganizationId: string,
): Resource {
  const resources = [
    referral.task,
    referral.serviceRequest,
    referral.patient,
    ...referral.consents,
  ].filter(present);
  const { entries } = copyEntries(resources, endpoint, platformOrganizationId);
  return { resourceType: 'Bundle', type: 'transaction', entry: entries };
}

/**
 * The transaction Bundle that makes a CareRelay Task posted with references to the EHR's own
 * server (`focus` = `<EHR base>/ServiceRequest/123`, `for` = `<EHR base>/Patient/9`) routable in
 * one step: copies of what was read from the EHR (conditional creates, as intakeBundle's), and
 * the Task updated with If-Match on the version read so that `focus` and `for` name the copies,
 * each keeping the original as its `identifier` (the copy's placer identifier). All or nothing:
 * never copies without the Task pointing at them, nor a Task pointing at nothing.
 */
export function localizationBundle(
  task: Resource,
  referral: Omit<PulledReferral, 'task'>,
  endpoint: EhrEndpoint,
  platformOrganizationId: string,
): Resource {
  const resources = [referral.serviceRequest, referral.patient, ...referral.consents].filter(
    present,
  );
  const { entries, urns } = copyEntries(resources, endpoint, platformOrganizationId);
  const { meta: _meta, ...body } = clone(task);
  const localized: Resource = { ...body, resourceType: 'Task' };
  for (const element of ['focus', 'for'] as const) {
    const original = (task[element] as { reference?: string } | undefined)?.reference;
    const target = referenceOnBase(original, endpoint.baseUrl);
    const urn = target && urns.get(`${target.resourceType}/${target.id}`);
    if (!target || !urn) continue;
    localized[element] = {
      ...(task[element] as object),
      reference: urn,
      identifier: {
        type: PLACER_TYPE,
        system: identitySystem(endpoint.baseUrl, target.resourceType),
        value: target.id,
      },
    };
  }
  entries.push({
    fullUrl: `urn:uuid:${crypto.randomUUID()}`,
    resource: localized,
    request: {
      method: 'PUT',
      url: `Task/${String(task.id)}`,
      ifMatch: `W/"${String(task.meta?.versionId ?? '')}"`,
    },
  });
  return { resourceType: 'Bundle', type: 'transaction', entry: entries };
}
