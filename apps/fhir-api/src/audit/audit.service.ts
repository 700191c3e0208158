import { GroupWriter, safeErrorText } from '@carerelay/persistence';
import { Logger } from '@nestjs/common';
import type { AuditEvent } from '@medplum/fhirtypes';
import { DataSource, EntityManager } from 'typeorm';
import { FhirError } from '@carerelay/fhir';
import {
  type AuditRecordInput,
  type AuditSubtype,
  buildAuditEvent,
  entityReferences,
  outcomeOfStatus,
} from './audit-event.builder';

type Db = DataSource | EntityManager;

/** An audit_events row, as its columns name it. */
interface AuditRow {
  id: string;
  recorded: string;
  action: AuditEvent['action'];
  subtype: string;
  outcome: AuditEvent['outcome'];
  client_id: string;
  organization_id: string;
  resource_type: string | null;
  entity_refs: string[];
  content: AuditEvent;
}

const AUDITED = new WeakSet<object>();

/** Notes that the failure `error` has its AuditEvent, so the exception filter adds none. */
export function markAudited(error: unknown): void {
  if (typeof error === 'object' && error !== null) AUDITED.add(error);
}

export const wasAudited = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && AUDITED.has(error);

/**
 * Writes AuditEvents into the audit trail (table audit_events of the fhir-api schema), searchable
 * by coordinators through GET /fhir/AuditEvent (AuditSearch).
 *
 *  - Writes: pass the transaction's EntityManager, so the AuditEvent commits with the change.
 *  - Reads and searches: pass the DataSource (or use `around`), so that the AuditEvent is written
 *    even when the read fails and its transaction rolls back (outcome 4 or 8).
 */
export class AuditService {
  private readonly logger = new Logger('Audit');

  constructor(
    private readonly dataSource: DataSource,
    private readonly schema: string,
  ) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`invalid schema ${schema}`);
  }

  /**
   * AuditEvents written outside any transaction (reads, searches, failures): concurrent ones go
   * out together in one multi-row INSERT, and each caller still waits for its own row.
   */
  private readonly standalone = new GroupWriter<AuditRow>((rows) =>
    this.insert(this.dataSource, rows),
  );

  /** The one statement that writes audit rows, in a transaction (`db`) or on their own. */
  private async insert(db: Db, rows: readonly AuditRow[]): Promise<void> {
    await db.query(
      `INSERT INTO "${this.schema}".audit_events
         (id, recorded, action, subtype, outcome, client_id, organization_id, resource_type, entity_refs, content)
       SELECT x.id, x.recorded, x.action, x.subtype, x.outcome, x.client_id, x.organization_id,
         x.resource_type, x.entity_refs, x.content
       FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, recorded timestamptz, action text,
         subtype text, outcome text, client_id text, organization_id text, resource_type text,
         entity_refs text[], content jsonb)`,
      [JSON.stringify(rows)],
    );
  }

  async record(db: Db | undefined, input: AuditRecordInput): Promise<AuditEvent> {
    const event = buildAuditEvent(input);
    const row: AuditRow = {
      id: event.id!,
      recorded: event.recorded,
      action: event.action,
      subtype: input.subtype,
      outcome: event.outcome,
      client_id: input.actor.clientId,
      organization_id: input.actor.organizationId,
      resource_type: input.resourceType ?? null,
      entity_refs: entityReferences(input),
      content: event,
    };
    if (db === undefined) await this.standalone.write(row);
    else await this.insert(db, [row]);
    return event;
  }

  /**
   * Runs an interaction and audits it whatever happens: outcome 0 with the ids `idsOf` finds in
   * the result, or 4 (FhirError 4xx) / 8 (anything else) with the error's diagnostics. The audit
   * row is written with the DataSource, outside the interaction's transaction. When the audit
   * write itself fails the interaction fails too (no unaudited access to patient data).
   */
  async around<T>(
    input: Omit<AuditRecordInput, 'outcome' | 'outcomeDesc'> & { subtype: AuditSubtype },
    interaction: () => Promise<T>,
    idsOf: (result: T) => readonly string[] | undefined = () => undefined,
    /** What the interaction learnt that belongs in its AuditEvent, asked once it has ended. */
    after: () => Pick<AuditRecordInput, 'consentDecisions'> = () => ({}),
  ): Promise<T> {
    let result: T;
    try {
      result = await interaction();
    } catch (error) {
      const status = error instanceof FhirError ? error.status : 500;
      const outcomeDesc =
        error instanceof FhirError
          ? error.issues.map((i) => i.diagnostics ?? i.code).join('; ')
          : 'internal error';
      try {
        await this.record(undefined, {
          ...input,
          ...after(),
          outcome: outcomeOfStatus(status),
          outcomeDesc,
        });
        markAudited(error);
      } catch (auditError) {
        this.logger.error(
          `could not write the AuditEvent of a failed ${input.subtype}: ${safeErrorText(auditError)}`,
        );
      }
      throw error;
    }
    await this.record(undefined, {
      ...input,
      ...after(),
      ids: idsOf(result) ?? input.ids,
      outcome: 0,
    });
    return result;
  }
}
