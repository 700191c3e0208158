import type { Resource } from '@carerelay/fhir-client';

/** The version of an EHR resource that was applied last (or is being looked at). */
export interface EhrVersion {
  versionId?: string;
  lastUpdated?: string;
}

export const versionOf = (resource: Resource): EhrVersion => {
  const meta = resource.meta as EhrVersion | undefined;
  return { versionId: meta?.versionId, lastUpdated: meta?.lastUpdated };
};

/**
 * Is `incoming` a version not applied yet: not the one applied (same versionId), and not older
 * than it (an overlapping search, or a notification that arrives late, brings old versions
 * again)? Version ids are compared for equality only: servers' ids need not be ordered (UUIDs).
 */
export function isNewerVersion(applied: EhrVersion | undefined, incoming: EhrVersion): boolean {
  if (!applied) return true;
  if (applied.versionId && incoming.versionId && applied.versionId === incoming.versionId)
    return false;
  if (applied.lastUpdated && incoming.lastUpdated) {
    const a = Date.parse(applied.lastUpdated);
    const b = Date.parse(incoming.lastUpdated);
    if (b < a) return false;
    // Same instant: new only if the server says it is another version.
    if (b === a) return !!incoming.versionId && incoming.versionId !== applied.versionId;
  }
  return true;
}

/**
 * What a referral's requester did on the EHR that CareRelay's source Task must follow: the
 * clinician cancelled the Task, or withdrew (revoked) the ServiceRequest, or marked either as
 * entered in error. Each becomes `cancelled` in CareRelay (the referral workflow then withdraws
 * the CBO's Task); the reason names what happened, in the EHR's words when it gave some.
 * Anything else the EHR changes (its copy of the status CareRelay pushed, say) is not a
 * requester's move and changes nothing.
 */
export function cancellationOf(resource: Resource): { reason: string } | undefined {
  const status = String(resource.status);
  const text = (resource.statusReason as { text?: string } | undefined)?.text?.trim();
  if (resource.resourceType === 'Task') {
    if (status === 'cancelled') return { reason: text || 'Cancelled on the referring EHR' };
    if (status === 'entered-in-error')
      return { reason: text || 'Entered in error on the referring EHR' };
  }
  if (resource.resourceType === 'ServiceRequest') {
    if (status === 'revoked')
      return { reason: 'The referring EHR withdrew the service request (revoked)' };
    if (status === 'entered-in-error')
      return { reason: 'The referring EHR marked the service request entered in error' };
  }
  return undefined;
}

/** ServiceRequest statuses the pull searches for: those that withdraw a pulled referral. */
export const WITHDRAWN_SERVICE_REQUEST_STATUSES = ['revoked', 'entered-in-error'];
