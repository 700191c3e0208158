import type { FhirResourceChangedV1 } from '@carerelay/contracts';
import { TASK_CODE_SYSTEM } from '@carerelay/fhir';

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

const idOf = (reference: Reference | undefined, type: string): string | undefined => {
  const match = reference?.reference?.match(new RegExp(`(?:^|/)${type}/([^/]+)(?:/_history/.*)?$`));
  return match?.[1];
};

/**
 * A new referral is a newly created source Task: `requested`, intent order, code fulfill, and not
 * itself part of another Task (the platform's own CBO sub-Tasks are).
 */
export function newReferralFrom(change: FhirResourceChangedV1): NewReferral | undefined {
  if (change.resourceType !== 'Task' || change.action !== 'create' || !change.resource)
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
    requesterOrganizationId: idOf(task.requester, 'Organization'),
    patientId: idOf(task.for, 'Patient'),
    serviceRequestId: idOf(task.focus, 'ServiceRequest'),
  };
}
