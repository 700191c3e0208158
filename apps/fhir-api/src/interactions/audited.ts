import type { Bundle } from '@medplum/fhirtypes';
import type { AuditSubtype, ConsentDecisionRecord } from '../audit/audit-event.builder';
import { outcomeOfStatus } from '../audit/audit-event.builder';
import { AuditService, markAudited } from '../audit/audit.service';
import { FhirError } from '@carerelay/fhir';
import type { RequestActor } from '../request-actor';
import type { ResourceStore } from '../store/resource.store';
import type { StoreTransaction } from '../store/store.transaction';
import type { InteractionResult } from './interaction.results';

export interface AuditWhat {
  subtype: AuditSubtype;
  resourceType?: string;
  /** Ids or references known before the interaction runs (a read's id). */
  ids?: string[];
  /** A search's query string. */
  query?: string;
}

/** The resources an answer carries: `Type/id/_history/n` of a stored one, `Type/id` of a Bundle's. */
export function auditedIds(result: InteractionResult | Bundle | undefined): string[] | undefined {
  if (!result) return undefined;
  if ('stored' in result && result.stored) {
    const s = result.stored;
    return [`${s.resourceType}/${s.id}/_history/${s.versionId}`];
  }
  const bundle = ('resourceType' in result ? result : result.body) as Bundle | undefined;
  if (bundle?.resourceType !== 'Bundle') return undefined;
  const ids: string[] = [];
  for (const entry of bundle.entry ?? []) {
    const resource = entry.resource;
    if (resource?.id && resource.resourceType !== 'OperationOutcome') {
      ids.push(`${resource.resourceType}/${resource.id}`);
    } else if (entry.response?.location) {
      ids.push(entry.response.location);
    }
  }
  return ids;
}

const failureOf = (error: unknown): { outcome: 0 | 4 | 8 | 12; outcomeDesc: string } =>
  error instanceof FhirError
    ? {
        outcome: outcomeOfStatus(error.status),
        outcomeDesc: error.issues.map((i) => i.diagnostics ?? i.code).join('; '),
      }
    : { outcome: 8, outcomeDesc: 'internal error' };

/**
 * Runs store interactions with their AuditEvent (who, which organization, what, when, outcome),
 * through the audit module's AuditService:
 *  - reads and searches: `around` — the AuditEvent is written outside the read's transaction,
 *    after it, whatever its outcome (a failed read is audited with outcome 4 or 8), with the
 *    consent decisions the read made (what was disclosed, redacted or withheld, and why);
 *  - writes: `record` inside the write's transaction (the AuditEvent commits with the change and
 *    never without it); a refused or failed write is audited afterwards, outside, with its outcome.
 */
export class AuditedStore {
  constructor(
    private readonly store: ResourceStore,
    private readonly audit: AuditService | undefined,
  ) {}

  read<T extends InteractionResult | Bundle>(
    actor: RequestActor,
    what: AuditWhat,
    fn: (tx: StoreTransaction) => Promise<T>,
  ): Promise<T> {
    if (!this.audit) return this.store.read(actor, fn);
    let decisions: () => ConsentDecisionRecord[] = () => [];
    return this.audit.around(
      { actor, ...what },
      () =>
        this.store.read(actor, (tx) => {
          decisions = () => tx.consentDecisions();
          return fn(tx);
        }),
      (result) => auditedIds(result) ?? what.ids,
      () => ({ consentDecisions: decisions() }),
    );
  }

  async write<T extends InteractionResult | Bundle>(
    actor: RequestActor,
    what: AuditWhat,
    fn: (tx: StoreTransaction) => Promise<T>,
  ): Promise<T> {
    const audit = this.audit;
    if (!audit) return this.store.run(actor, fn);
    try {
      return await this.store.run(actor, async (tx) => {
        const result = await fn(tx);
        await audit.record(tx.manager, {
          actor,
          ...what,
          ids: auditedIds(result) ?? what.ids,
          outcome: 0,
          consentDecisions: tx.consentDecisions(),
        });
        return result;
      });
    } catch (error) {
      await this.recordFailure(actor, what, error);
      throw error;
    }
  }

  /** A failure that happened before any transaction (e.g. a refused Bundle entry). */
  async recordFailure(actor: RequestActor, what: AuditWhat, error: unknown): Promise<void> {
    if (!this.audit) return;
    try {
      await this.audit.record(undefined, { actor, ...what, ...failureOf(error) });
      markAudited(error);
    } catch {
      // The interaction's own error is what the client must see; AuditService logs nothing here.
    }
  }
}
