import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Consent } from '@medplum/fhirtypes';
import { EntityManager } from 'typeorm';
import { Counter } from 'prom-client';
import {
  boundariesAfter,
  ConsentDecision,
  consentDecisionFrom,
  ConsentFormatError,
  Grant,
  GrantChange,
  grantChanges,
  grantKey,
  grantsInForce,
  isNewerVersion,
  referencedId,
  WHOLE_NETWORK,
} from '@carerelay/consent';
import { ConsentEventV1, EventTypes, FhirResourceChangedV1 } from '@carerelay/contracts';
import { OutboxWriter } from '@carerelay/messaging';
import { metricsRegistry } from '@carerelay/observability';
import { SERVICE_SCHEMA } from '@carerelay/persistence';

export const consentEventsCounter = new Counter({
  name: 'carerelay_consent_events_total',
  help: 'consent.granted / revoked / expired events written to the outbox',
  labelNames: ['type'],
  registers: [metricsRegistry],
});

export interface StoredConsent {
  consentId: string;
  patientId: string | null;
  versionId: string;
  lastUpdated: string;
  deleted: boolean;
  decision: ConsentDecision | null;
  problem: string | null;
}

export type ApplyOutcome = 'applied' | 'stale' | 'ignored';

const EVENT_TYPES = {
  granted: EventTypes.consentGranted,
  revoked: EventTypes.consentRevoked,
  expired: EventTypes.consentExpired,
} as const;

/**
 * The consent state of each patient and the events that announce its changes. Every write runs
 * in the caller's transaction, under a per-patient advisory lock, so that the Kafka consumer and
 * the timer poller (in any number of processes) never interleave on one patient.
 */
@Injectable()
export class ConsentLedger {
  private readonly logger = new Logger(ConsentLedger.name);

  constructor(
    @Inject(SERVICE_SCHEMA) private readonly schema: string,
    private readonly outbox: OutboxWriter,
  ) {}

  /** Applies one Consent create/update/delete from fhir.changes.v1. */
  async applyConsentChange(
    manager: EntityManager,
    change: FhirResourceChangedV1,
    traceparent?: string,
  ): Promise<ApplyOutcome> {
    if (change.resourceType !== 'Consent') return 'ignored';
    const s = this.schema;
    let decision: ConsentDecision | null = null;
    let problem: string | null = null;
    let patientId: string | null = null;
    if (change.action !== 'delete') {
      const resource = change.resource as unknown as Consent | undefined;
      patientId = referencedId(resource?.patient, 'Patient') ?? null;
      try {
        if (!resource)
          throw new ConsentFormatError('no-resource', 'the change event carries no resource');
        decision = consentDecisionFrom({ ...resource, id: resource.id ?? change.id });
        patientId = decision.patientId;
      } catch (error) {
        if (!(error instanceof ConsentFormatError)) throw error;
        // Fail closed: what cannot be read grants nothing, and what it replaces stops counting.
        problem = error.message;
        // The code only: a message may one day quote what the Consent holds.
        this.logger.warn(`Consent/${change.id} v${change.versionId} unreadable (${error.code})`);
      }
    }

    const before = await this.load(manager, change.id);
    const patients = [
      ...new Set([before?.patientId, patientId].filter((p): p is string => !!p)),
    ].sort();
    for (const patient of patients) await this.lockPatient(manager, patient);
    const existing = await this.load(manager, change.id, true);
    if (existing && !isNewerVersion(change, existing)) {
      this.logger.log(
        `Consent/${change.id} v${change.versionId} is not newer than v${existing.versionId}: ignored`,
      );
      return 'stale';
    }
    await manager.query(
      `INSERT INTO "${s}".consent_record
         (consent_id, patient_id, version_id, last_updated, deleted, decision, problem, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, now())
       ON CONFLICT (consent_id) DO UPDATE SET
         patient_id = EXCLUDED.patient_id, version_id = EXCLUDED.version_id,
         last_updated = EXCLUDED.last_updated, deleted = EXCLUDED.deleted,
         decision = EXCLUDED.decision, problem = EXCLUDED.problem, updated_at = now()`,
      [
        change.id,
        change.action === 'delete' ? (existing?.patientId ?? null) : patientId,
        change.versionId,
        change.lastUpdated,
        change.action === 'delete',
        decision === null ? null : JSON.stringify(decision),
        problem,
      ],
    );
    const affected = [...new Set([existing?.patientId, patientId].filter((p): p is string => !!p))];
    for (const patient of affected) await this.reconcile(manager, patient, new Date(), traceparent);
    return 'applied';
  }

  /**
   * Brings the announced grants of one patient in line with the consents in force at `now`,
   * writing one outbox event per change, and schedules timers for the next period boundaries.
   */
  async reconcile(
    manager: EntityManager,
    patientId: string,
    now: Date,
    traceparent?: string,
  ): Promise<GrantChange[]> {
    const s = this.schema;
    await this.lockPatient(manager, patientId);
    const decisions = await this.decisionsOf(manager, patientId);
    const current = grantsInForce(decisions, now);
    const announced = await this.announcedGrants(manager, patientId);
    const changes = grantChanges(announced, current, now);

    for (const change of changes) {
      const { grant } = change;
      const data: ConsentEventV1 = {
        consentId: grant.consentId,
        patientId,
        organizationId: grant.organizationKey === WHOLE_NETWORK ? null : grant.organizationKey,
        occurredAt: change.occurredAt,
        securityLabels: grant.securityLabels,
      };
      if (grant.periodStart !== null) data.periodStart = grant.periodStart;
      if (grant.periodEnd !== null) data.periodEnd = grant.periodEnd;
      await this.outbox.append(manager, EVENT_TYPES[change.kind], data, {
        subject: patientId,
        traceparent,
      });
      consentEventsCounter.inc({ type: change.kind });
    }

    const currentKeys = new Set(current.map(grantKey));
    for (const gone of announced.filter((grant) => !currentKeys.has(grantKey(grant)))) {
      await manager.query(
        `DELETE FROM "${s}".consent_grant
         WHERE patient_id = $1 AND kind = $2 AND consent_id = $3 AND organization_key = $4`,
        [patientId, gone.kind, gone.consentId, gone.organizationKey],
      );
    }
    // Grants still in force keep their announced_at but take the period and labels of the
    // newest version, so that an expiry is told apart from a period cut short.
    for (const grant of current) {
      await manager.query(
        `INSERT INTO "${s}".consent_grant
           (patient_id, kind, consent_id, organization_key, period_start, period_end, security_labels)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (patient_id, kind, consent_id, organization_key) DO UPDATE SET
           period_start = EXCLUDED.period_start, period_end = EXCLUDED.period_end,
           security_labels = EXCLUDED.security_labels`,
        [
          patientId,
          grant.kind,
          grant.consentId,
          grant.organizationKey,
          grant.periodStart,
          grant.periodEnd,
          JSON.stringify(grant.securityLabels),
        ],
      );
    }
    for (const due of boundariesAfter(decisions, now)) {
      await manager.query(
        `INSERT INTO "${s}".consent_timer (patient_id, due_at) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
        [patientId, due.toISOString()],
      );
    }
    return changes;
  }

  /** The decisions of the patient's current, non-deleted, readable consents. */
  async decisionsOf(manager: EntityManager, patientId: string): Promise<ConsentDecision[]> {
    const rows: Array<{ decision: ConsentDecision }> = await manager.query(
      `SELECT decision FROM "${this.schema}".consent_record
       WHERE patient_id = $1 AND NOT deleted AND decision IS NOT NULL ORDER BY consent_id`,
      [patientId],
    );
    return rows.map((row) => row.decision);
  }

  async consentsOf(manager: EntityManager, patientId: string): Promise<StoredConsent[]> {
    const rows: RecordRow[] = await manager.query(
      `SELECT * FROM "${this.schema}".consent_record WHERE patient_id = $1 ORDER BY consent_id`,
      [patientId],
    );
    return rows.map(toStored);
  }

  async announcedGrants(manager: EntityManager, patientId: string): Promise<Grant[]> {
    const rows: Array<{
      kind: 'permit' | 'deny';
      consent_id: string;
      organization_key: string;
      period_start: Date | null;
      period_end: Date | null;
      security_labels: string[];
    }> = await manager.query(
      `SELECT kind, consent_id, organization_key, period_start, period_end, security_labels
       FROM "${this.schema}".consent_grant WHERE patient_id = $1`,
      [patientId],
    );
    return rows.map((row) => ({
      kind: row.kind,
      consentId: row.consent_id,
      patientId,
      organizationKey: row.organization_key,
      periodStart: row.period_start?.toISOString() ?? null,
      periodEnd: row.period_end?.toISOString() ?? null,
      securityLabels: row.security_labels,
    }));
  }

  private async load(
    manager: EntityManager,
    consentId: string,
    forUpdate = false,
  ): Promise<StoredConsent | undefined> {
    const rows: RecordRow[] = await manager.query(
      `SELECT * FROM "${this.schema}".consent_record WHERE consent_id = $1${forUpdate ? ' FOR UPDATE' : ''}`,
      [consentId],
    );
    return rows.length === 0 ? undefined : toStored(rows[0]);
  }

  private async lockPatient(manager: EntityManager, patientId: string): Promise<void> {
    await manager.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [
      `${this.schema}/patient/${patientId}`,
    ]);
  }
}

interface RecordRow {
  consent_id: string;
  patient_id: string | null;
  version_id: string;
  last_updated: Date;
  deleted: boolean;
  decision: ConsentDecision | null;
  problem: string | null;
}

const toStored = (row: RecordRow): StoredConsent => ({
  consentId: row.consent_id,
  patientId: row.patient_id,
  versionId: row.version_id,
  lastUpdated: row.last_updated.toISOString(),
  deleted: row.deleted,
  decision: row.decision,
  problem: row.problem,
});
