import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { SERVICE_SCHEMA } from '@carerelay/persistence';
import { UNKNOWN } from './dimensions';
import type { DirectoryServiceFacts } from '../ingest/directory-facts';
import type { FactRow } from './fact-columns';

/** Filters of every measure; the period is on the referral's request time, [from, to). */
export interface CohortFilter {
  from: Date;
  to: Date;
  cbo?: string;
  category?: string;
  requester?: string;
  race?: string;
  ethnicity?: string;
  language?: string;
  zip?: string;
  payer?: string;
  ageBand?: string;
  sex?: string;
}

interface CohortRow {
  referral_id: string;
  requested_at: Date;
  routed_at: Date | null;
  accepted_at: Date | null;
  completed_at: Date | null;
  terminal_state: string | null;
  terminal_at: Date | null;
  current_state: string;
  attempts: number;
  reroutes: number;
  awaited_consent: boolean;
  breaches: number;
  cbo: string;
  category: string;
  requester: string;
  race: string;
  ethnicity: string;
  language: string;
  zip: string;
  payer: string;
  age_band: string;
  sex: string;
  reasons: string[] | null;
}

const PAGE = 50_000;

/** What a reader saw: transactions from xmax on, and those in xip, were not visible to it. */
export interface ReadSnapshot {
  xmax: string;
  xip: string[];
}

/**
 * The referrals of the read model joined with what is known of their Patient, ServiceRequest and
 * Coverage now (so a Patient change that arrived after the referral's events counts as soon as it
 * is there), read incrementally: every referral changed by a transaction not visible to the
 * previous read.
 */
@Injectable()
export class MeasuresRepository {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(SERVICE_SCHEMA) private readonly schema: string,
  ) {}

  /**
   * Referrals changed since the snapshot of the previous read (all when null), in one snapshot,
   * and that snapshot for next time. A change is new if its transaction was not visible then:
   * it started at or after that snapshot's xmax, or was in progress (in its xip list).
   */
  async changes(
    since: ReadSnapshot | null,
    onPage: (rows: FactRow[]) => void,
  ): Promise<{ snapshot: ReadSnapshot; rows: number }> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction('REPEATABLE READ');
      // Compiling these plans took longer than running them (1.5 s of JIT for 0.5 s of work).
      await runner.query(`SET LOCAL jit = off`);
      const [snapshot]: ReadSnapshot[] = await runner.query(
        `SELECT pg_snapshot_xmax(s)::text AS xmax,
                coalesce((SELECT array_agg(x::text) FROM pg_snapshot_xip(s) x), '{}') AS xip
           FROM pg_current_snapshot() s`,
      );
      let total = 0;
      if (since) {
        const rows: CohortRow[] = await runner.query(
          this.changedSql(`r.changed_xid >= $2::xid8 OR r.changed_xid = ANY($3::xid8[])`),
          [UNKNOWN, since.xmax, since.xip],
        );
        onPage(rows.map(toFactRow));
        total = rows.length;
      } else {
        for (let after = ''; ;) {
          const rows: CohortRow[] = await runner.query(
            `${this.changedSql('r.referral_id > $2')} ORDER BY r.referral_id LIMIT ${PAGE}`,
            [UNKNOWN, after],
          );
          onPage(rows.map(toFactRow));
          total += rows.length;
          if (rows.length < PAGE) break;
          after = rows[rows.length - 1].referral_id;
        }
      }
      await runner.commitTransaction();
      return { snapshot, rows: total };
    } catch (error) {
      if (runner.isTransactionActive) await runner.rollbackTransaction();
      throw error;
    } finally {
      await runner.release();
    }
  }

  async directoryServices(): Promise<DirectoryServiceFacts[]> {
    const rows: Array<Record<string, unknown>> = await this.dataSource.query(
      `SELECT service_id, organization_id, active, categories, postal_codes, other_areas,
              capacity_status, available, maximum
         FROM "${this.schema}".directory_service`,
    );
    return rows.map((r) => ({
      serviceId: r.service_id as string,
      organizationId: r.organization_id as string,
      active: r.active as boolean,
      categories: r.categories as string[],
      postalCodes: r.postal_codes as string[],
      otherAreas: r.other_areas as number,
      capacityStatus: r.capacity_status as string | null,
      available: r.available as number | null,
      maximum: r.maximum as number | null,
    }));
  }

  private changedSql(where: string): string {
    const s = this.schema;
    return `SELECT r.referral_id, r.requested_at, r.routed_at, r.accepted_at, r.completed_at,
                r.terminal_state, r.terminal_at, r.current_state, r.attempts, r.reroutes,
                r.awaited_consent, coalesce(b.breaches, 0)::int AS breaches,
                coalesce(r.target_org, $1) AS cbo,
                coalesce(sr.category, $1) AS category,
                coalesce(r.requester_org, $1) AS requester,
                coalesce(p.race, $1) AS race,
                coalesce(p.ethnicity, $1) AS ethnicity,
                coalesce(p.language, $1) AS language,
                coalesce(p.zip, $1) AS zip,
                coalesce(cv.payer, p.payer_extension, $1) AS payer,
                coalesce(p.age_band, $1) AS age_band,
                coalesce(p.sex, $1) AS sex,
                rj.reasons
           FROM "${s}".referral r
           LEFT JOIN "${s}".task_link t ON t.task_id = r.referral_id
           LEFT JOIN "${s}".service_request sr ON sr.service_request_id = t.service_request_id
           LEFT JOIN "${s}".patient p ON p.patient_key = coalesce(r.patient_key, t.patient_key)
           LEFT JOIN LATERAL (
             SELECT c.payer FROM "${s}".coverage c
              WHERE c.patient_key = p.patient_key AND c.active AND c.payer IS NOT NULL
              ORDER BY c.source_updated_at DESC LIMIT 1) cv ON true
           LEFT JOIN LATERAL (
             SELECT count(*) AS breaches FROM "${s}".followup_event f
              WHERE f.referral_id = r.referral_id AND f.breached) b ON true
           LEFT JOIN LATERAL (
             -- One reason per ended attempt, the first published.
             SELECT array_agg(x.reason) AS reasons FROM (
               SELECT DISTINCT ON (e.attempt) coalesce(e.reason_code, 'other') AS reason
                 FROM "${s}".referral_event e
                WHERE e.referral_id = r.referral_id AND e.state = 'rejected'
                ORDER BY e.attempt, e.occurred_at, e.seq) x) rj ON true
          WHERE ${where}`;
  }
}

function toFactRow(r: CohortRow): FactRow {
  return {
    reasons: r.reasons ?? [],
    fact: {
      referralId: r.referral_id,
      requestedAt: new Date(r.requested_at),
      routedAt: r.routed_at && new Date(r.routed_at),
      acceptedAt: r.accepted_at && new Date(r.accepted_at),
      completedAt: r.completed_at && new Date(r.completed_at),
      terminalState: r.terminal_state,
      terminalAt: r.terminal_at && new Date(r.terminal_at),
      currentState: r.current_state,
      attempts: Number(r.attempts),
      reroutes: Number(r.reroutes),
      awaitedConsent: r.awaited_consent,
      breaches: Number(r.breaches),
      cbo: r.cbo,
      category: r.category,
      requester: r.requester,
      race: r.race,
      ethnicity: r.ethnicity,
      language: r.language,
      zip: r.zip,
      payer: r.payer,
      ageBand: r.age_band,
      sex: r.sex,
    },
  };
}
