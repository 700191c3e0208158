import type { Task } from '@medplum/fhirtypes';
import type { RequestActor } from '../request-actor';
import { matchesOnPatientData, redactTask } from './consent-access';
import type { ConsentRuleRepository } from './consent-rule.repository';
import type { StoredResource } from './stored-resource.model';

/**
 * What the actor is shown of what it may read, decided once for every channel. Consent coverage
 * is asked once per patient and transaction: a page of Tasks about one patient costs one query.
 */
export class Disclosure {
  private readonly covered = new Map<string, boolean>();

  constructor(
    private readonly consentRules: ConsentRuleRepository,
    private readonly actor: RequestActor,
  ) {}

  /** See StoreTransaction.disclose. */
  async disclose(
    stored: StoredResource | undefined,
    options: { matchedOn?: readonly { param: string }[] } = {},
  ): Promise<StoredResource | undefined> {
    if (!stored) return undefined;
    if (this.actor.role !== 'cbo' || stored.resourceType !== 'Task' || stored.deleted)
      return stored;
    if (!stored.patientId || (await this.coversActor(stored.patientId))) return stored;
    if (options.matchedOn && matchesOnPatientData(options.matchedOn)) return undefined;
    return { ...stored, resource: redactTask(stored.resource as Task) };
  }

  /** Does a consent in force cover disclosing this patient's data to the (CBO) actor now? */
  async coversActor(patientId: string): Promise<boolean> {
    let answer = this.covered.get(patientId);
    if (answer === undefined) {
      answer = await this.consentRules.covers(patientId, this.actor.organizationId);
      this.covered.set(patientId, answer);
    }
    return answer;
  }
}
