import type { Task } from '@medplum/fhirtypes';
import {
  type ConsentDecision,
  type DataDisclosure,
  DEFAULT_PURPOSE_OF_USE,
  discloseData,
  type DisclosureCode,
} from '@carerelay/consent';
import type { ConsentDecisionRecord } from '../audit/audit-event.builder';
import type { RequestActor } from '../request-actor';
import { matchesOnPatientData, redactTask } from './consent-access';
import type { ConsentRuleRepository } from './consent-rule.repository';
import type { StoredResource } from './stored-resource.model';

/** One consent decision made for the actor, for the AuditEvent (never shown to the client). */
export interface ConsentDisclosureRecord extends ConsentDecisionRecord {
  code: DisclosureCode;
  labels: string[];
}

/** Rows of a search's count, grouped by what the consent decision looks at. */
export interface DisclosureGroup {
  resourceType: string;
  patientId: string | null;
  labels: string[];
  count: number;
}

/**
 * What a CBO is shown of a resource about a patient, decided by libs/consent's discloseData on the
 * patient's stored Consents, the resource's security labels and the token's purpose of use (on
 * top of the SQL gate of readableFilter, which only knows whether some consent covers the CBO):
 * - a resource the decision withholds answers 404 and is left out of every Bundle, whatever the
 *   reason (the client is never told that labelled data exists);
 * - a referral Task the decision withholds is shown redacted ("awaiting consent"), or not at all
 *   when it was matched on patient data;
 * - 42 CFR Part 2 data that is disclosed carries NORDSCLCD, the prohibition on redisclosure.
 * The Consents of every patient of a page are read in one query, once per transaction; each
 * decision is kept for the AuditEvent (records).
 */
export class Disclosure {
  private readonly decisions = new Map<string, Promise<ConsentDecision[]>>();
  private readonly made = new Map<string, ConsentDisclosureRecord>();

  constructor(
    private readonly consentRules: ConsentRuleRepository,
    private readonly actor: RequestActor,
    private readonly at: Date,
  ) {}

  /** Whether the consent decision applies to this resource: a CBO's, about a patient. */
  private gated(stored: StoredResource): stored is StoredResource & { patientId: string } {
    return this.actor.role === 'cbo' && !!stored.patientId && !stored.deleted;
  }

  /** Reads the Consents of the patients not read yet, all in one query. */
  private prefetch(patientIds: Iterable<string>): void {
    const missing = [...new Set(patientIds)].filter((id) => !this.decisions.has(id));
    if (missing.length === 0) return;
    const loading = this.consentRules.decisionsOf(missing);
    // Every waiter sees the query's failure; none is left unhandled meanwhile.
    loading.catch(() => undefined);
    for (const id of missing)
      this.decisions.set(
        id,
        loading.then((all) => all.get(id) ?? []),
      );
  }

  private async decide(stored: StoredResource & { patientId: string }): Promise<DataDisclosure> {
    this.prefetch([stored.patientId]);
    return discloseData(
      await this.decisions.get(stored.patientId)!,
      { patientId: stored.patientId, security: stored.resource.meta?.security },
      {
        organizationId: this.actor.organizationId,
        purpose: this.actor.purposeOfUse ?? DEFAULT_PURPOSE_OF_USE,
        at: this.at,
      },
    );
  }

  private record(
    stored: StoredResource,
    answer: DataDisclosure,
    shown: ConsentDisclosureRecord['shown'],
  ): void {
    const reference = `${stored.resourceType}/${stored.id}/_history/${stored.versionId}`;
    this.made.set(reference, {
      reference,
      shown,
      code: answer.code,
      consentId: answer.consentId,
      labels: answer.labels,
    });
  }

  /**
   * The resource if the actor may be given it at all (a Task always: redaction is disclose's
   * business), undefined when the consent decision withholds it. What read, vread, update, patch,
   * delete and conditional lookups of the store start from.
   */
  async readable(stored: StoredResource | undefined): Promise<StoredResource | undefined> {
    if (!stored || stored.resourceType === 'Task' || !this.gated(stored)) return stored;
    const answer = await this.decide(stored);
    if (answer.allowed) return stored;
    this.record(stored, answer, 'withheld');
    return undefined;
  }

  /** See StoreTransaction.disclose. */
  async disclose(
    stored: StoredResource | undefined,
    options: { matchedOn?: readonly { param: string }[] } = {},
  ): Promise<StoredResource | undefined> {
    if (!stored || !this.gated(stored)) return stored;
    const answer = await this.decide(stored);
    if (answer.allowed) {
      this.record(stored, answer, 'disclosed');
      const security = answer.security ?? [];
      if (security.length === (stored.resource.meta?.security ?? []).length) return stored;
      return {
        ...stored,
        resource: { ...stored.resource, meta: { ...stored.resource.meta, security } },
      };
    }
    if (
      stored.resourceType !== 'Task' ||
      (options.matchedOn && matchesOnPatientData(options.matchedOn))
    ) {
      this.record(stored, answer, 'withheld');
      return undefined;
    }
    this.record(stored, answer, 'redacted');
    return { ...stored, resource: redactTask(stored.resource as Task) };
  }

  /** disclose for a list, the Consents of all its patients read at once. */
  async discloseAll(
    list: readonly StoredResource[],
    options: { matchedOn?: readonly { param: string }[] } = {},
  ): Promise<StoredResource[]> {
    this.prefetch(list.filter((s) => this.gated(s)).map((s) => s.patientId!));
    const shown = await Promise.all(list.map((s) => this.disclose(s, options)));
    return shown.filter((s): s is StoredResource => s !== undefined);
  }

  /** Does the consent decision let the (CBO) actor see this Task unredacted? */
  async showsTaskInFull(stored: StoredResource): Promise<boolean> {
    if (!this.gated(stored)) return true;
    return (await this.decide(stored)).allowed;
  }

  /**
   * How many of a search's matches disclose shows, from the matches grouped by type, patient and
   * labels: a search's total counts no withheld resource (it would tell that one exists).
   */
  async shownCount(
    groups: readonly DisclosureGroup[],
    matchedOnPatientData: boolean,
  ): Promise<number> {
    this.prefetch(groups.flatMap((g) => (g.patientId ? [g.patientId] : [])));
    let total = 0;
    for (const group of groups) {
      const stored = {
        resourceType: group.resourceType,
        id: '',
        versionId: 0,
        lastUpdated: '',
        deleted: false,
        patientId: group.patientId,
        resource: {
          resourceType: group.resourceType,
          meta: { security: group.labels.map((code) => ({ code })) },
        },
        orgs: { requesterOrg: null, ownerOrg: null, otherOrgs: [] },
      } as StoredResource;
      const counted =
        !this.gated(stored) ||
        (group.resourceType === 'Task' && !matchedOnPatientData) ||
        (await this.decide(stored)).allowed;
      if (counted) total += group.count;
    }
    return total;
  }

  /** The decisions made so far (one per resource version), for the AuditEvent. */
  records(): ConsentDisclosureRecord[] {
    return [...this.made.values()];
  }
}
