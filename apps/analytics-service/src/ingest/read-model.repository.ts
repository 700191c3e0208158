import { Inject, Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import type { BatchWriter } from '@carerelay/messaging';
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

export interface Versioned<T> {
  facts: T;
  updatedAt: string;
}

export interface FollowupRow {
  dedupeKey: string;
  referralId: string;
  kind: string;
  breached: boolean;
  occurredAt: string;
}

export interface ConsentRow {
  patientKey: string;
  status: string;
  occurredAt: string;
}

/**
 * Items in rounds: each round holds at most one item per key, in the order they came, so that a
 * multi-row upsert per round (which may touch a row only once) gives what one statement per item
 * in arrival order would.
 */
export function inRounds<T>(items: readonly T[], keyOf: (item: T) => string): T[][] {
  const rounds: T[][] = [];
  const seen = new Map<string, number>();
  for (const item of items) {
    const key = keyOf(item);
    const round = seen.get(key) ?? 0;
    seen.set(key, round + 1);
    (rounds[round] ??= []).push(item);
  }
  return rounds;
}

const distinct = (values: ReadonlyArray<string | null>) => [
  ...new Set(values.filter((v): v is string => v !== null)),
];

/**
 * The read model's writes, as batch writers: the handlers defer each event's row, and a
 * transaction (one event, or a whole batch of the consumer) writes them in a few multi-row
 * statements. Each write is idempotent and independent of the order of arrival.
 */
@Injectable()
export class ReadModelRepository {
  constructor(@Inject(SERVICE_SCHEMA) private readonly schema: string) {}

  /**
   * A writer that first takes the read model's write lock (transaction-scoped, re-entrant). The
   * consumer applies several partitions' batches at once, and their multi-row upserts and
   * `touch` updates meet on the same referral and patient rows in different orders: PostgreSQL
   * then aborted one of them as a deadlock (40P01), and its whole batch was redone message by
   * message. One writer at a time costs little here: a batch is a few statements.
   */
  private serialized<T>(
    write: (manager: EntityManager, rows: T[]) => Promise<void>,
  ): BatchWriter<T> {
    return {
      write: async (manager, rows) => {
        // Once per transaction (its manager): the lock is held until it ends.
        if (!this.locked.has(manager)) {
          await manager.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
            `carerelay.analytics.read-model.${this.schema}`,
          ]);
          this.locked.add(manager);
        }
        await write(manager, rows);
      },
    };
  }

  /** The transactions (by their entity manager) that hold the write lock. */
  private readonly locked = new WeakSet<EntityManager>();

  readonly referralEvents: BatchWriter<ReferralEventRow> = this.serialized((manager, rows) =>
    this.addReferralEvents(manager, rows),
  );
  readonly patients: BatchWriter<Versioned<PatientFacts>> = this.serialized((manager, rows) =>
    this.upsertPatients(manager, rows),
  );
  readonly serviceRequests: BatchWriter<Versioned<ServiceRequestFacts>> = this.serialized(
    (manager, rows) => this.upsertServiceRequests(manager, rows),
  );
  readonly tasks: BatchWriter<Versioned<TaskFacts>> = this.serialized((manager, rows) =>
    this.upsertTasks(manager, rows),
  );
  readonly coverages: BatchWriter<Versioned<CoverageFacts>> = this.serialized((manager, rows) =>
    this.upsertCoverages(manager, rows),
  );
  readonly followupEvents: BatchWriter<FollowupRow> = this.serialized((manager, rows) =>
    this.addFollowupEvents(manager, rows),
  );
  readonly consentStates: BatchWriter<ConsentRow> = this.serialized((manager, rows) =>
    this.setConsentStates(manager, rows),
  );
  readonly directoryServices: BatchWriter<Versioned<DirectoryServiceFacts>> = this.serialized(
    (manager, rows) => this.upsertDirectoryServices(manager, rows),
  );

  private async addReferralEvents(manager: EntityManager, rows: ReferralEventRow[]): Promise<void> {
    const s = this.schema;
    // In the order given: seq breaks ties of occurred_at as arrival did.
    await manager.query(
      `INSERT INTO "${s}".referral_event
         (event_id, referral_id, state, occurred_at, attempt, reason_code, requester_org, target_org, patient_key)
       SELECT e, r, st, o, a, rc, ro, t, p
         FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::int[],
                     $6::text[], $7::text[], $8::text[], $9::text[])
              WITH ORDINALITY AS u(e, r, st, o, a, rc, ro, t, p, n)
        ORDER BY n
       ON CONFLICT (event_id) DO NOTHING`,
      [
        rows.map((r) => r.eventId),
        rows.map((r) => r.referralId),
        rows.map((r) => r.state),
        rows.map((r) => r.occurredAt),
        rows.map((r) => r.attempt),
        rows.map((r) => r.reasonCode),
        rows.map((r) => r.requesterOrg),
        rows.map((r) => r.targetOrg),
        rows.map((r) => r.patientKey),
      ],
    );
    // A referral's row is a function of all its events: recomputed, never incremented.
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
         FROM "${s}".referral_event WHERE referral_id = ANY($1::text[]) GROUP BY referral_id
       ON CONFLICT (referral_id) DO UPDATE SET
         requested_at = EXCLUDED.requested_at, routed_at = EXCLUDED.routed_at,
         accepted_at = EXCLUDED.accepted_at, completed_at = EXCLUDED.completed_at,
         terminal_state = EXCLUDED.terminal_state, terminal_at = EXCLUDED.terminal_at,
         current_state = EXCLUDED.current_state, current_state_at = EXCLUDED.current_state_at,
         attempts = EXCLUDED.attempts, reroutes = EXCLUDED.reroutes,
         awaited_consent = EXCLUDED.awaited_consent, requester_org = EXCLUDED.requester_org,
         target_org = EXCLUDED.target_org, patient_key = EXCLUDED.patient_key,
         changed_xid = pg_current_xact_id()`,
      [distinct(rows.map((r) => r.referralId))],
    );
  }

  /** Marks referrals as changed for the readers' incremental refresh (see the migration). */
  private async touch(manager: EntityManager, where: string, values: string[]): Promise<void> {
    if (values.length === 0) return;
    await manager.query(
      `UPDATE "${this.schema}".referral SET changed_xid = pg_current_xact_id() WHERE ${where}`,
      [values],
    );
  }

  private async touchPatients(manager: EntityManager, patientKeys: string[]): Promise<void> {
    // Two statements: an OR across them would scan the whole table.
    await this.touch(manager, 'patient_key = ANY($1::text[])', patientKeys);
    await this.touch(
      manager,
      `referral_id IN (SELECT task_id FROM "${this.schema}".task_link WHERE patient_key = ANY($1::text[]))`,
      patientKeys,
    );
  }

  /** A newer version replaces an older one; an older one arriving late changes nothing. */
  private async upsertPatients(
    manager: EntityManager,
    rows: Versioned<PatientFacts>[],
  ): Promise<void> {
    for (const round of inRounds(rows, (r) => r.facts.patientKey)) {
      const p = round.map((r) => r.facts);
      await manager.query(
        `INSERT INTO "${this.schema}".patient AS t
           (patient_key, race, ethnicity, language, zip, age_band, sex, payer_extension, source_updated_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                              $6::text[], $7::text[], $8::text[], $9::timestamptz[])
         ON CONFLICT (patient_key) DO UPDATE SET
           race = EXCLUDED.race, ethnicity = EXCLUDED.ethnicity, language = EXCLUDED.language,
           zip = EXCLUDED.zip, age_band = EXCLUDED.age_band, sex = EXCLUDED.sex,
           payer_extension = EXCLUDED.payer_extension, source_updated_at = EXCLUDED.source_updated_at
         WHERE t.source_updated_at <= EXCLUDED.source_updated_at`,
        [
          p.map((x) => x.patientKey),
          p.map((x) => x.race),
          p.map((x) => x.ethnicity),
          p.map((x) => x.language),
          p.map((x) => x.zip),
          p.map((x) => x.ageBand),
          p.map((x) => x.sex),
          p.map((x) => x.payerExtension),
          round.map((r) => r.updatedAt),
        ],
      );
    }
    await this.touchPatients(manager, distinct(rows.map((r) => r.facts.patientKey)));
  }

  private async upsertServiceRequests(
    manager: EntityManager,
    rows: Versioned<ServiceRequestFacts>[],
  ): Promise<void> {
    for (const round of inRounds(rows, (r) => r.facts.id)) {
      await manager.query(
        `INSERT INTO "${this.schema}".service_request AS t (service_request_id, category, code, source_updated_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
         ON CONFLICT (service_request_id) DO UPDATE SET
           category = EXCLUDED.category, code = EXCLUDED.code, source_updated_at = EXCLUDED.source_updated_at
         WHERE t.source_updated_at <= EXCLUDED.source_updated_at`,
        [
          round.map((r) => r.facts.id),
          round.map((r) => r.facts.category),
          round.map((r) => r.facts.code),
          round.map((r) => r.updatedAt),
        ],
      );
    }
    await this.touch(
      manager,
      `referral_id IN (SELECT task_id FROM "${this.schema}".task_link WHERE service_request_id = ANY($1::text[]))`,
      distinct(rows.map((r) => r.facts.id)),
    );
  }

  private async upsertTasks(manager: EntityManager, rows: Versioned<TaskFacts>[]): Promise<void> {
    for (const round of inRounds(rows, (r) => r.facts.taskId)) {
      await manager.query(
        `INSERT INTO "${this.schema}".task_link AS t (task_id, service_request_id, patient_key, source_updated_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
         ON CONFLICT (task_id) DO UPDATE SET
           service_request_id = coalesce(EXCLUDED.service_request_id, t.service_request_id),
           patient_key = coalesce(EXCLUDED.patient_key, t.patient_key),
           source_updated_at = EXCLUDED.source_updated_at
         WHERE t.source_updated_at <= EXCLUDED.source_updated_at`,
        [
          round.map((r) => r.facts.taskId),
          round.map((r) => r.facts.serviceRequestId),
          round.map((r) => r.facts.patientKey),
          round.map((r) => r.updatedAt),
        ],
      );
    }
    await this.touch(
      manager,
      'referral_id = ANY($1::text[])',
      distinct(rows.map((r) => r.facts.taskId)),
    );
  }

  private async upsertCoverages(
    manager: EntityManager,
    rows: Versioned<CoverageFacts>[],
  ): Promise<void> {
    for (const round of inRounds(rows, (r) => r.facts.coverageId)) {
      await manager.query(
        `INSERT INTO "${this.schema}".coverage AS t (coverage_id, patient_key, payer, active, source_updated_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[], $5::timestamptz[])
         ON CONFLICT (coverage_id) DO UPDATE SET
           patient_key = EXCLUDED.patient_key, payer = EXCLUDED.payer, active = EXCLUDED.active,
           source_updated_at = EXCLUDED.source_updated_at
         WHERE t.source_updated_at <= EXCLUDED.source_updated_at`,
        [
          round.map((r) => r.facts.coverageId),
          round.map((r) => r.facts.patientKey),
          round.map((r) => r.facts.payer),
          round.map((r) => r.facts.active),
          round.map((r) => r.updatedAt),
        ],
      );
    }
    await this.touchPatients(manager, distinct(rows.map((r) => r.facts.patientKey)));
  }

  private async addFollowupEvents(manager: EntityManager, rows: FollowupRow[]): Promise<void> {
    await manager.query(
      `INSERT INTO "${this.schema}".followup_event (dedupe_key, referral_id, kind, breached, occurred_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[], $5::timestamptz[])
       ON CONFLICT (dedupe_key) DO NOTHING`,
      [
        rows.map((r) => r.dedupeKey),
        rows.map((r) => r.referralId),
        rows.map((r) => r.kind),
        rows.map((r) => r.breached),
        rows.map((r) => r.occurredAt),
      ],
    );
    await this.touch(
      manager,
      'referral_id = ANY($1::text[])',
      distinct(rows.filter((r) => r.breached).map((r) => r.referralId)),
    );
  }

  private async setConsentStates(manager: EntityManager, rows: ConsentRow[]): Promise<void> {
    for (const round of inRounds(rows, (r) => r.patientKey)) {
      await manager.query(
        `INSERT INTO "${this.schema}".consent_state AS t (patient_key, status, occurred_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])
         ON CONFLICT (patient_key) DO UPDATE SET status = EXCLUDED.status, occurred_at = EXCLUDED.occurred_at
         WHERE t.occurred_at <= EXCLUDED.occurred_at`,
        [
          round.map((r) => r.patientKey),
          round.map((r) => r.status),
          round.map((r) => r.occurredAt),
        ],
      );
    }
  }

  /** A newer record replaces an older one; an older one arriving late changes nothing. */
  private async upsertDirectoryServices(
    manager: EntityManager,
    rows: Versioned<DirectoryServiceFacts>[],
  ): Promise<void> {
    for (const round of inRounds(rows, (r) => r.facts.serviceId)) {
      const d = round.map((r) => r.facts);
      // Arrays of arrays do not unnest row by row: one JSON document per service instead.
      await manager.query(
        `INSERT INTO "${this.schema}".directory_service AS t (service_id, organization_id, active,
            categories, postal_codes, other_areas, capacity_status, available, maximum, occurred_at)
         SELECT x.service_id, x.organization_id, x.active,
                ARRAY(SELECT jsonb_array_elements_text(x.categories)),
                ARRAY(SELECT jsonb_array_elements_text(x.postal_codes)),
                x.other_areas, x.capacity_status, x.available, x.maximum, x.occurred_at
           FROM jsonb_to_recordset($1::jsonb) AS x(service_id text, organization_id text,
                active boolean, categories jsonb, postal_codes jsonb, other_areas integer,
                capacity_status text, available integer, maximum integer, occurred_at timestamptz)
         ON CONFLICT (service_id) DO UPDATE SET
           organization_id = EXCLUDED.organization_id, active = EXCLUDED.active,
           categories = EXCLUDED.categories, postal_codes = EXCLUDED.postal_codes,
           other_areas = EXCLUDED.other_areas, capacity_status = EXCLUDED.capacity_status,
           available = EXCLUDED.available, maximum = EXCLUDED.maximum, occurred_at = EXCLUDED.occurred_at
         WHERE t.occurred_at <= EXCLUDED.occurred_at`,
        [
          JSON.stringify(
            d.map((x, i) => ({
              service_id: x.serviceId,
              organization_id: x.organizationId,
              active: x.active,
              categories: x.categories,
              postal_codes: x.postalCodes,
              other_areas: x.otherAreas,
              capacity_status: x.capacityStatus,
              available: x.available,
              maximum: x.maximum,
              occurred_at: round[i].updatedAt,
            })),
          ),
        ],
      );
    }
  }
}
