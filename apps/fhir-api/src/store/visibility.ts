import type { Resource } from '@medplum/fhirtypes';
import type { RequestActor } from '../request-actor';
import { collectReferences, normalizeReference, parseReference } from '@carerelay/fhir';
import { SqlParams } from './sql';

/**
 * Which organizations a stored resource involves. These columns are what visibility is decided
 * on; they are computed on every write and kept beside the content.
 * - requester_org: the organization that sent it (a Task/ServiceRequest `requester` that is an
 *   Organization, an Endpoint's `managingOrganization`, else the organization of the client that
 *   created it); kept on updates.
 * - owner_org: who it is addressed to (Task.owner, ServiceRequest.performer: an Organization).
 * - other_orgs: every other local Organization the resource references (and an Organization's
 *   own id).
 */
export interface ResourceOrganizations {
  requesterOrg: string | null;
  ownerOrg: string | null;
  otherOrgs: string[];
}

export function organizationIdOf(
  reference: unknown,
  localBaseUrls: readonly string[],
): string | undefined {
  const normalized = normalizeReference(reference, localBaseUrls);
  if (!normalized) return undefined;
  const parsed = parseReference(normalized);
  return parsed?.kind === 'relative' && parsed.resourceType === 'Organization'
    ? parsed.id
    : undefined;
}

type Ref = { reference?: string } | undefined;

export function organizationsOf(
  resource: Resource,
  creator: { previous?: ResourceOrganizations; actor: RequestActor },
  localBaseUrls: readonly string[],
): ResourceOrganizations {
  const orgOf = (ref: Ref) => organizationIdOf(ref?.reference, localBaseUrls);
  const record = resource as unknown as Record<string, unknown>;
  let ownerOrg: string | undefined;
  let declaredRequester: string | undefined;
  if (resource.resourceType === 'Task') {
    ownerOrg = orgOf(record.owner as Ref);
    declaredRequester = orgOf(record.requester as Ref);
  } else if (resource.resourceType === 'ServiceRequest') {
    ownerOrg = ((record.performer as Ref[] | undefined) ?? []).map(orgOf).find(Boolean);
    declaredRequester = orgOf(record.requester as Ref);
  } else if (resource.resourceType === 'Endpoint') {
    // An EHR endpoint is its organization's, as if it had sent it: that organization sees it.
    declaredRequester = orgOf(record.managingOrganization as Ref);
  }
  const others = new Set<string>();
  for (const found of collectReferences(resource)) {
    const org = orgOf(found.reference);
    if (org) others.add(org);
  }
  if (resource.resourceType === 'Organization' && resource.id) others.add(resource.id);
  const requesterOrg =
    creator.previous?.requesterOrg ?? declaredRequester ?? creator.actor.organizationId ?? null;
  return { requesterOrg, ownerOrg: ownerOrg ?? null, otherOrgs: [...others].sort() };
}

/** Every organization involved, for `fhir.changes.v1` events. */
export function involvedOrganizations(orgs: ResourceOrganizations): string[] {
  const all = new Set<string>(orgs.otherOrgs);
  if (orgs.requesterOrg) all.add(orgs.requesterOrg);
  if (orgs.ownerOrg) all.add(orgs.ownerOrg);
  return [...all].sort();
}

/**
 * THE visibility rule: an SQL predicate over the organization columns of the row aliased
 * `alias` (a `resources` row). Every read, vread, search, `_include` and `_history` of the store
 * goes through it; a resource the actor may not see answers 404 everywhere.
 *
 * - coordinator, platform: the whole network;
 * - ehr: what its organization requested (sent), and by grant the outcome of its referrals;
 * - cbo: what it owns or is otherwise addressed to.
 */
export function visibilityFilter(actor: RequestActor, alias: string, params: SqlParams): string {
  switch (actor.role) {
    case 'coordinator':
    case 'platform':
      return 'TRUE';
    case 'ehr':
      return `(${alias}.requester_org = ${params.add(actor.organizationId)})`;
    case 'cbo': {
      const org = params.add(actor.organizationId);
      return `(${alias}.owner_org = ${org} OR ${org} = ANY(${alias}.other_orgs))`;
    }
    default:
      return 'FALSE';
  }
}
