import type { FhirResourceChangedV1 } from '@carerelay/contracts';
import {
  isReferralSourceTask,
  type ReferralTaskLike,
  isRemoteReference,
  normalizeReference,
} from '@carerelay/fhir';

export interface NewReferral {
  taskId: string;
  taskVersion: string;
  requesterOrganizationId?: string;
  patientId?: string;
  serviceRequestId?: string;
}

interface Reference {
  reference?: string;
}

/** The id of a `type` resource of this server the reference names (relative, or absolute on it). */
const idOf = (
  reference: Reference | undefined,
  type: string,
  localBaseUrls: readonly string[],
): string | undefined => {
  const local = normalizeReference(reference?.reference, localBaseUrls);
  return local?.startsWith(`${type}/`) ? local.slice(type.length + 1) : undefined;
};

/**
 * A new referral is a source Task that is `requested` — created so, or moved there from `draft`
 * (its requester may draft it first) — with intent order, code fulfill, and not itself part of
 * another Task (the platform's own CBO sub-Tasks are). An update of a Task that already is a
 * referral qualifies too: taking it in again is a no-op (the referral row exists).
 */
export function newReferralFrom(
  change: FhirResourceChangedV1,
  localBaseUrls: readonly string[] = [],
): NewReferral | undefined {
  if (change.resourceType !== 'Task' || change.action === 'delete' || !change.resource)
    return undefined;
  const task = change.resource as ReferralTaskLike;
  if (!isReferralSourceTask(task)) return undefined;
  return {
    taskId: change.id,
    taskVersion: change.versionId,
    requesterOrganizationId: idOf(task.requester, 'Organization', localBaseUrls),
    patientId: idOf(task.for, 'Patient', localBaseUrls),
    serviceRequestId: idOf(task.focus, 'ServiceRequest', localBaseUrls),
  };
}

/**
 * Whether a referral Task still names its ServiceRequest or Patient on another server (its EHR's,
 * by absolute URL): not routable yet. The ehr-connector fetches them and points the Task at
 * CareRelay's copies; that update is taken in as the referral.
 */
export function awaitsLocalCopies(
  task: Pick<ReferralTaskLike, 'focus' | 'for'>,
  localBaseUrls: readonly string[],
): boolean {
  return (
    isRemoteReference(task.focus?.reference, localBaseUrls) ||
    isRemoteReference(task.for?.reference, localBaseUrls)
  );
}
