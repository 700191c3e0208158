import type { ServiceRequest, Task } from '@medplum/fhirtypes';
import {
  badRequest,
  checkOwnerChanges,
  FHIR_ID_PATTERN,
  FhirError,
  forbidden,
  isLocalizedReference,
  isSupportedResourceType,
  REMOTE_REFERENCE_ELEMENTS,
  type TaskActorRole,
} from '@carerelay/fhir';
import { assertScope } from '../auth/assert-scope';
import type { Interaction } from '../auth/scopes';
import type { RequestActor } from '../request-actor';
import type { StoredResource } from '../store/stored-resource.model';

export interface InteractionLimits {
  defaultCount: number;
  maxCount: number;
  /** The most one search may cost (page × (1 + includes)); unlimited when absent. */
  maxSearchCost?: number;
}

/** 404 for types this server does not serve (unknown to R4, or outside the IG's list). */
export function assertSupportedType(resourceType: string): void {
  if (!isSupportedResourceType(resourceType)) {
    throw new FhirError(404, [
      {
        severity: 'error',
        code: 'not-supported',
        diagnostics: `Resource type "${String(resourceType).slice(0, 64)}" is not supported by this server`,
      },
    ]);
  }
}

/**
 * 404 for a type this server does not serve, then 403 (naming the missing scope) unless the
 * actor's token grants the interaction on the type and its role allows it (src/auth). Every
 * interaction calls it: a plain request, and each entry of a batch or transaction Bundle.
 */
export function authorize(
  actor: RequestActor,
  resourceType: string,
  interaction: Interaction,
): void {
  assertSupportedType(resourceType);
  assertScope(actor, resourceType, interaction);
}

export function assertId(id: string): void {
  if (!FHIR_ID_PATTERN.test(id))
    throw badRequest(`Invalid resource id "${id.slice(0, 80)}"`, undefined, 'value');
}

/** The role of the actor in a referral Task's workflow (libs/fhir task-status rules). */
export function taskRoleOf(
  actor: RequestActor,
  stored: StoredResource | undefined,
  task: Task,
): TaskActorRole | undefined {
  if (actor.role === 'platform' || actor.role === 'coordinator') return 'platform';
  const requesterOrg = stored?.orgs.requesterOrg ?? actor.organizationId;
  const ownerRef = task.owner?.reference ?? '';
  const ownerOrg =
    stored?.orgs.ownerOrg ??
    (ownerRef.startsWith('Organization/') ? ownerRef.slice(13) : undefined);
  const isRequester = requesterOrg === actor.organizationId;
  const isOwner = ownerOrg === actor.organizationId;
  if (isRequester && isOwner) return 'platform';
  if (isOwner) return 'owner';
  if (isRequester) return 'requester';
  return undefined;
}

/**
 * The platform (CareRelay's own services) acts as "platform" in the Task transition table. On a
 * Task it did not request — a source Task an EHR sent to the platform, which the platform owns —
 * it may change what an owner may (status, statusReason, output) and `businessStatus` (the
 * referral's progress, mirrored from the CBO's Task), and make `focus` and `for` that name the
 * EHR's own server point at CareRelay's copies; 403 naming the element otherwise.
 */
export function checkPlatformTaskChanges(
  actor: RequestActor,
  stored: StoredResource,
  after: Task,
  localBaseUrls: readonly string[] = [],
): FhirError | undefined {
  if (actor.role !== 'platform' || stored.orgs.requesterOrg === actor.organizationId) return;
  const before = stored.resource as Task;
  // A ServiceRequest or Patient the EHR named on its own server, replaced by CareRelay's copy of
  // it (the original kept as the reference's identifier): compared as if unchanged.
  const localized = { ...after } as Task;
  for (const element of REMOTE_REFERENCE_ELEMENTS)
    if (isLocalizedReference(before[element], after[element], localBaseUrls))
      (localized as unknown as Record<string, unknown>)[element] = before[element];
  return checkOwnerChanges(before, localized, { allowBusinessStatus: true });
}

/** Elements of a ServiceRequest that are the server's, not the client's. */
const SERVER_META = new Set(['versionId', 'lastUpdated', 'source']);

/**
 * The platform may update a ServiceRequest it did not request (an EHR's source ServiceRequest)
 * only to mark it completed (the referral was fulfilled): status → completed, nothing else.
 * Its own ServiceRequests (filler-orders) it may change freely.
 */
export function checkPlatformServiceRequestChanges(
  actor: RequestActor,
  stored: StoredResource,
  after: ServiceRequest,
): FhirError | undefined {
  if (actor.role !== 'platform' || stored.orgs.requesterOrg === actor.organizationId) return;
  const before = stored.resource as ServiceRequest;
  const b = before as unknown as Record<string, unknown>;
  const a = after as unknown as Record<string, unknown>;
  for (const key of [...new Set([...Object.keys(b), ...Object.keys(a)])].sort()) {
    if (key === 'status') continue;
    if (key === 'meta') {
      const mb = (b.meta ?? {}) as Record<string, unknown>;
      const ma = (a.meta ?? {}) as Record<string, unknown>;
      for (const m of new Set([...Object.keys(mb), ...Object.keys(ma)])) {
        if (!SERVER_META.has(m) && JSON.stringify(mb[m]) !== JSON.stringify(ma[m]))
          return forbidden(
            `The platform may only complete another organization's ServiceRequest; not change meta.${m}`,
            `ServiceRequest.meta.${m}`,
          );
      }
      continue;
    }
    if (JSON.stringify(b[key]) !== JSON.stringify(a[key]))
      return forbidden(
        `The platform may only complete another organization's ServiceRequest; not change ${key}`,
        `ServiceRequest.${key}`,
      );
  }
  if (after.status !== before.status && after.status !== 'completed')
    return forbidden(
      `The platform may set another organization's ServiceRequest to completed only, not ${after.status}`,
      'ServiceRequest.status',
    );
  return undefined;
}
