import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { SERVICE_SCHEMA } from '@carerelay/persistence';
import { UNKNOWN } from './dimensions';
import type { ReferralFact, Rejection } from './measures';

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

const FILTER_COLUMNS: Array<[keyof CohortFilter, string]> = [
  ['cbo', 'cbo'],
  ['category', 'category'],
  ['requester', 'requester'],
  ['race', 'race'],
  ['ethnicity', 'ethnicity'],
  ['language', 'language'],
  ['zip', 'zip'],
  ['payer', 'payer'],
  ['ageBand', 'age_band'],
  ['sex', 'sex'],
];

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
}

/**
 * The cohort of a query: referrals requested in the period, joined with what is known of their
 * Patient, ServiceRequest and Coverage at query time (so a Patient change that arrived after the
 * referral's events counts as soon as it is there).
 */
@Injectable()
export class MeasuresRepository {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(SERVICE_SCHEMA) private readonly schema: string,
  ) {}

  async cohort(filter: CohortFilter): Promise<{ facts: ReferralFact[]; rejections: Rejection[] }> {
    const s = this.schema;
    const params: unknown[] = [filter.from, filter.to, UNKNOWN];
    const where = FILTER_COLUMNS.filter(([key]) => filter[key] !== undefined).map(
      ([key, column]) => {
        params.push(filter[key]);
        return `AND q.${column} = $${params.length}`;
      },
    );
    const rows: CohortRow[] = await this.dataSource.query(
      `SELECT * FROM (
         SELECT r.referral_id, r.requested_at, r.routed_at, r.accepted_at, r.completed_at,
                r.terminal_state, r.terminal_at, r.current_state, r.attempts, r.reroutes,
                r.awaited_consent, coalesce(b.breaches, 0)::int AS breaches,
                coalesce(r.target_org, $3) AS cbo,
                coalesce(sr.category, $3) AS category,
                coalesce(r.requester_org, $3) AS requester,
                coalesce(p.race, $3) AS race,
                coalesce(p.ethnicity, $3) AS ethnicity,
                coalesce(p.language, $3) AS language,
                coalesce(p.zip, $3) AS zip,
                coalesce(cv.payer, p.payer_extension, $3) AS payer,
                coalesce(p.age_band, $3) AS age_band,
                coalesce(p.sex, $3) AS sex
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
          WHERE r.requested_at >= $1 AND r.requested_at < $2
       ) q WHERE true ${where.join(' ')}`,
      params,
    );
    const facts = rows.map((r): ReferralFact => ({
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
    }));
    if (facts.length === 0) return { facts, rejections: [] };
    const rejected: Array<{ referral_id: string; attempt: number | null; reason_code: string }> =
      await this.dataSource.query(
        `SELECT DISTINCT ON (referral_id, attempt) referral_id, attempt, reason_code
           FROM "${s}".referral_event
          WHERE state = 'rejected' AND referral_id = ANY($1)
          ORDER BY referral_id, attempt, occurred_at, seq`,
        [facts.map((f) => f.referralId)],
      );
    return {
      facts,
      rejections: rejected.map((r) => ({
        referralId: r.referral_id,
        attempt: r.attempt,
        reasonCode: r.reason_code,
      })),
    };
  }
}
