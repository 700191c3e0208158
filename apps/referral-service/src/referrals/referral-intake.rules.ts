import type { FhirResourceChangedV1 } from '@carerelay/contracts';
import { isRemoteReference, normalizeReference, TASK_CODE_SYSTEM } from '@carerelay/fhir';

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
interface TaskLike {
  resourceType?: string;
  status?: string;
  intent?: string;
  code?: { coding?: Array<{ system?: string; code?: string }> };
  partOf?: Reference[];
  requester?: Reference;
  for?: Reference;
  focus?: Reference;
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
  const task = change.resource as TaskLike;
  const fulfill = task.code?.coding?.some(
    (c) => c.system === TASK_CODE_SYSTEM && c.code === 'fulfill',
  );
  if (task.status !== 'requested' || task.intent !== 'order' || !fulfill) return undefined;
  if ((task.partOf ?? []).length > 0) return undefined;
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
  task: Pick<TaskLike, 'focus' | 'for'>,
  localBaseUrls: readonly string[],
): boolean {
  return (
    isRemoteReference(task.focus?.reference, localBaseUrls) ||
    isRemoteReference(task.for?.reference, localBaseUrls)
  );
}
