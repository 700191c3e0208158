import type { Task } from '@medplum/fhirtypes';
import { parseReference } from '@carerelay/fhir';
import type { RequestActor } from '../request-actor';
import type { AccessGrantRepository, GrantTarget } from './access-grant.repository';
import type { StoredResource } from './stored-resource.model';

const relative = (reference: string | undefined) => {
  const parsed = parseReference(reference ?? '');
  return parsed?.kind === 'relative' ? parsed : undefined;
};

/**
 * Which organizations a write grants what (consent-access.ts says how grants are read): a
 * referral Task opens its patient data to its owner and its outcome to its referrers; a Consent
 * stored later reaches the organizations its patient was granted to.
 */
export class AccessGrants {
  constructor(
    private readonly repository: AccessGrantRepository,
    private readonly actor: RequestActor,
  ) {}

  /** The grants of a version just stored. */
  async afterWrite(stored: StoredResource): Promise<void> {
    if (stored.deleted) return;
    const patientId = stored.patientId ?? null;
    if (stored.resourceType === 'Task') {
      const task = stored.resource as Task;
      await this.grantTaskOwner(task, patientId);
      await this.grantReferrers(task, stored, patientId);
    }
    if (stored.resourceType === 'Consent' && patientId) {
      await this.repository.extendToConsent(stored.id, patientId);
    }
  }

  /**
   * When the platform writes a Task addressed to another organization (a CBO), that organization
   * is granted the referral's patient data: the Patient, the focus ServiceRequest, the requests it
   * is basedOn, and the patient's Consents. Reading them still needs a covering consent.
   */
  private async grantTaskOwner(task: Task, patientId: string | null): Promise<void> {
    if (this.actor.role !== 'platform') return;
    const owner = task.owner?.reference ?? '';
    const ownerOrg = owner.startsWith('Organization/') ? owner.slice('Organization/'.length) : '';
    if (!ownerOrg || ownerOrg === this.actor.organizationId || !task.id) return;
    const targets: GrantTarget[] = [];
    if (patientId) targets.push({ type: 'Patient', id: patientId });
    const focus = parseReference(task.focus?.reference ?? '');
    if (focus?.kind === 'relative' && focus.resourceType === 'ServiceRequest') {
      targets.push({ type: 'ServiceRequest', id: focus.id });
      for (const ref of await this.repository.basedOnOf(focus.id)) {
        const based = parseReference(ref ?? '');
        if (based?.kind === 'relative' && based.resourceType === 'ServiceRequest')
          targets.push({ type: 'ServiceRequest', id: based.id });
      }
    }
    if (targets.length > 0) await this.repository.grant(ownerOrg, patientId, task.id, targets);
    if (patientId) await this.repository.grantPatientConsents(ownerOrg, patientId, task.id);
  }

  /**
   * The outcome of a referral belongs to the organization that referred it. The organizations that
   * requested this Task, or the Task it is partOf (the referring EHR's), are granted what they
   * could not see by organization alone: this Task when it is partOf theirs, its focus and basedOn
   * requests (the CBO's filler order), and what its output references (the CBO's Procedure). The
   * owner is left out: its own access is the consent-gated grant of grantTaskOwner.
   */
  private async grantReferrers(
    task: Task,
    stored: StoredResource,
    patientId: string | null,
  ): Promise<void> {
    if (!task.id) return;
    const parents = (task.partOf ?? [])
      .map((ref) => relative(ref.reference))
      .filter((ref) => ref?.resourceType === 'Task')
      .map((ref) => ref!.id);
    const targets: GrantTarget[] = [];
    if (parents.length > 0) {
      targets.push({ type: 'Task', id: task.id });
      for (const ref of [task.focus, ...(task.basedOn ?? [])]) {
        const request = relative(ref?.reference);
        if (request) targets.push({ type: request.resourceType, id: request.id });
      }
    }
    for (const output of task.output ?? []) {
      const produced = relative(output.valueReference?.reference);
      if (produced) targets.push({ type: produced.resourceType, id: produced.id });
    }
    if (targets.length === 0) return;
    await this.repository.grantReferrers({
      patientId,
      taskId: task.id,
      parents,
      requesterOrg: stored.orgs.requesterOrg,
      ownerOrg: stored.orgs.ownerOrg,
      targets,
    });
  }
}
