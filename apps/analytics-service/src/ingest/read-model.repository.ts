import { Inject, Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { SERVICE_SCHEMA } from '@carerelay/persistence';
import type { DirectoryServiceFacts } from './directory-facts';
import type { CoverageFacts, PatientFacts, ServiceRequestFacts, TaskFacts } from './fhir-facts';

export interface ReferralEventRow {
  eventId: string;
  referralId: string;
  state: string;
  occurredAt: string;
  attempt: number | null;
  reasonCode: string | null;
  requesterOrg: string | null;
  targetOrg: string | null;
  patientKey: string | null;
}

const TERMINAL = `('completed', 'cancelled', 'failed')`;

/** The read model's writes. Each is idempotent and independent of the order of arrival. */
@Injectable()
export class ReadModelRepository {
  constructor(@Inject(SERVICE_SCHEMA) private readonly schema: string) {}

  async addReferralEvent(manager: EntityManager, row: ReferralEventRow): Promise<void> {
    const s = this.schema;
    await manager.query(
      `INSERT INTO "${s}".referral_event
         (event_id, referral_id, state, occurred_at, attempt, reason_code, requester_org, target_org, patient_key)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (event_id) DO NOTHING`,
      [
        row.eventId,
        row.referralId,
        row.state,
        row.occurredAt,
        row.attempt,
        row.reasonCode,
        row.requesterOrg,
        row.targetOrg,
        row.patientKey,
      ],
    );
    // The referral's row is a function of all its events: recomputed, never incremented.
    await manager.query(
      `INSERT INTO "${s}".referral AS r
         (referral_id, requested_at, routed_at, accepted_at, completed_at, terminal_state,
          terminal_at, current_state, current_state_at, attempts, reroutes, awaited_consent,
          requester_org, target_org, patient_key)
       SELECT referral_id,
              coalesce(min(occurred_at) FILTER (WHERE state = 'requested'), min(occurred_at)),
              min(occurred_at) FILTER (WHERE state = 'routed'),
              min(occurred_at) FILTER (WHERE state = 'accepted'),
              min(occurred_at) FILTER (WHERE state = 'completed'),
              (array_agg(state ORDER BY occurred_at, seq) FILTER (WHERE state IN ${TERMINAL}))[1],
              min(occurred_at) FILTER (WHERE state IN ${TERMINAL}),
              (array_agg(state ORDER BY occurred_at DESC, seq DESC))[1],
              max(occurred_at),
              coalesce(max(attempt), 0),
              count(DISTINCT attempt) FILTER (WHERE state = 'rerouted'),
              bool_or(state = 'awaiting-consent'),
              max(requester_org),
              (array_agg(target_org ORDER BY occurred_at DESC, seq DESC)
                 FILTER (WHERE state = 'routed' AND target_org IS NOT NULL))[1],
              max(patient_key)
         FROM "${s}".referral_event WHERE referral_id = $1 GROUP BY referral_id
       ON CONFLICT (referral_id) DO UPDATE SET
         requested_at = EXCLUDED.requested_at, routed_at = EXCLUDED.routed_at,
         accepted_at = EXCLUDED.accepted_at, completed_at = EXCLUDED.completed_at,
         terminal_state = EXCLUDED.terminal_state, terminal_at = EXCLUDED.terminal_at,
         current_state = EXCLUDED.current_state, current_state_at = EXCLUDED.current_state_at,
         attempts = EXCLUDED.attempts, reroutes = EXCLUDED.reroutes,
         awaited_consent = EXCLUDED.awaited_consent, requester_org = EXCLUDED.requester_org,
         target_org = EXCLUDED.target_org, patient_key = EXCLUDED.patient_key,
         changed_xid = pg_current_xact_id()`,
      [row.referralId],
    );
  }

  /** Marks referrals as changed for the readers' incremental refresh (see the migration). */
  private async touch(manager: EntityManager, where: string, value: string): Promise<void> {
    await manager.query(
      `UPDATE "${this.schema}".referral SET changed_xid = pg_current_xact_id() WHERE ${where}`,
      [value],
    );
  }

  private async touchPatient(manager: EntityManager, patientKey: string): Promise<void> {
    // Two statements: an OR across them would scan the whole table.
    await this.touch(manager, 'patient_key = $1', patientKey);
    await this.touch(
      manager,
      `referral_id IN (SELECT task_id FROM "${this.schema}".task_link WHERE patient_key = $1)`,
      patientKey,
    );
  }

  /** A newer version replaces an older one; an older one arriving late changes nothing. */
  async upsertPatient(manager: EntityManager, p: PatientFacts, updatedAt: string): Promise<void> {
    await manager.query(
      `INSERT INTO "${this.schema}".patient AS t
         (patient_key, race, ethnicity, language, zip, age_band, sex, payer_extension, source_updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (patient_key) DO UPDATE SET
         race = EXCLUDED.race, ethnicity = EXCLUDED.ethnicity, language = EXCLUDED.language,
         zip = EXCLUDED.zip, age_band = EXCLUDED.age_band, sex = EXCLUDED.sex,
         payer_extension = EXCLUDED.payer_extension, source_updated_at = EXCLUDED.source_updated_at
       WHERE t.source_updated_at <= EXCLUDED.source_updated_at`,
      [
        p.patientKey,
        p.race,
        p.ethnicity,
        p.language,
        p.zip,
        p.ageBand,
        p.sex,
        p.payerExtension,
        updatedAt,
      ],
    );
    await this.touchPatient(manager, p.patientKey);
  }

  async upsertServiceRequest(
    manager: EntityManager,
    sr: ServiceRequestFacts,
    updatedAt: string,
  ): Promise<void> {
    await manager.query(
      `INSERT INTO "${this.schema}".service_request AS t (service_request_id, category, code, source_updated_at)
       VALUES ($1, $2, $3, $4)
       ON CONFLICT (service_request_id) DO UPDATE SET
         category = EXCLUDED.category, code = EXCLUDED.code, source_updated_at = EXCLUDED.source_updated_at
       WHERE t.source_updated_at <= EXCLUDED.source_updated_at`,
      [sr.id, sr.category, sr.code, updatedAt],
    );
    await this.touch(
      manager,
      `referral_id IN (SELECT task_id FROM "${this.schema}".task_link WHERE service_request_id = $1)`,
      sr.id,
    );
  }

  async upsertTask(manager: EntityManager, task: TaskFacts, updatedAt: string): Promise<void> {
    await manager.query(
      `INSERT INTO "${this.schema}".task_link AS t (task_id, service_request_id, patient_key, source_updated_at)
       VALUES ($1, $2, $3, $4)
       ON CONFLICT (task_id) DO UPDATE SET
         service_request_id = coalesce(EXCLUDED.service_request_id, t.service_request_id),
         patient_key = coalesce(EXCLUDED.patient_key, t.patient_key),
         source_updated_at = EXCLUDED.source_updated_at
       WHERE t.source_updated_at <= EXCLUDED.source_updated_at`,
      [task.taskId, task.serviceRequestId, task.patientKey, updatedAt],
    );
    await this.touch(manager, 'referral_id = $1', task.taskId);
  }

  async upsertCoverage(manager: EntityManager, c: CoverageFacts, updatedAt: string): Promise<void> {
    await manager.query(
      `INSERT INTO "${this.schema}".coverage AS t (coverage_id, patient_key, payer, active, source_updated_at)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (coverage_id) DO UPDATE SET
         patient_key = EXCLUDED.patient_key, payer = EXCLUDED.payer, active = EXCLUDED.active,
         source_updated_at = EXCLUDED.source_updated_at
       WHERE t.source_updated_at <= EXCLUDED.source_updated_at`,
      [c.coverageId, c.patientKey, c.payer, c.active, updatedAt],
    );
    if (c.patientKey) await this.touchPatient(manager, c.patientKey);
  }

  async addFollowupEvent(
    manager: EntityManager,
    row: {
      dedupeKey: string;
      referralId: string;
      kind: string;
      breached: boolean;
      occurredAt: string;
    },
  ): Promise<void> {
    await manager.query(
      `INSERT INTO "${this.schema}".followup_event (dedupe_key, referral_id, kind, breached, occurred_at)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT (dedupe_key) DO NOTHING`,
      [row.dedupeKey, row.referralId, row.kind, row.breached, row.occurredAt],
    );
    if (row.breached) await this.touch(manager, 'referral_id = $1', row.referralId);
  }

  async setConsentState(
    manager: EntityManager,
    patientKey: string,
    status: string,
    occurredAt: string,
  ): Promise<void> {
    await manager.query(
      `INSERT INTO "${this.schema}".consent_state AS t (patient_key, status, occurred_at)
       VALUES ($1, $2, $3)
       ON CONFLICT (patient_key) DO UPDATE SET status = EXCLUDED.status, occurred_at = EXCLUDED.occurred_at
       WHERE t.occurred_at <= EXCLUDED.occurred_at`,
      [patientKey, status, occurredAt],
    );
  }

  /** A newer record replaces an older one; an older one arriving late changes nothing. */
  async upsertDirectoryService(
    manager: EntityManager,
    d: DirectoryServiceFacts,
    occurredAt: string,
  ): Promise<void> {
    await manager.query(
      `INSERT INTO "${this.schema}".directory_service AS t (service_id, organization_id, active,
          categories, postal_codes, other_areas, capacity_status, available, maximum, occurred_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (service_id) DO UPDATE SET
         organization_id = EXCLUDED.organization_id, active = EXCLUDED.active,
         categories = EXCLUDED.categories, postal_codes = EXCLUDED.postal_codes,
         other_areas = EXCLUDED.other_areas, capacity_status = EXCLUDED.capacity_status,
         available = EXCLUDED.available, maximum = EXCLUDED.maximum, occurred_at = EXCLUDED.occurred_at
       WHERE t.occurred_at <= EXCLUDED.occurred_at`,
      [
        d.serviceId,
        d.organizationId,
        d.active,
        d.categories,
        d.postalCodes,
        d.otherAreas,
        d.capacityStatus,
        d.available,
        d.maximum,
        occurredAt,
      ],
    );
  }
}
