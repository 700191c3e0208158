import { Inject, Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { SERVICE_SCHEMA } from '@carerelay/persistence';

export interface ContactAttemptRow {
  id: string;
  referralId: string;
  organizationId: string | null;
  channel: string;
  outcome: string;
  note: string | null;
  at: Date;
  recordedAt: Date;
}

export interface FollowupOutcomeRow {
  id: string;
  referralId: string;
  organizationId: string | null;
  status: string;
  note: string | null;
  at: Date;
  recordedAt: Date;
}

/** The SQL of contact attempts and follow-up outcomes (tables of the service's schema). */
@Injectable()
export class RecordsRepository {
  constructor(@Inject(SERVICE_SCHEMA) private readonly schema: string) {}

  async insertContactAttempt(
    manager: EntityManager,
    row: Omit<ContactAttemptRow, 'recordedAt'>,
  ): Promise<ContactAttemptRow> {
    const [inserted] = await manager.query(
      `INSERT INTO "${this.schema}".contact_attempt
         (id, referral_id, organization_id, channel, outcome, note, at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       RETURNING id, referral_id AS "referralId", organization_id AS "organizationId", channel,
         outcome, note, at, recorded_at AS "recordedAt"`,
      [row.id, row.referralId, row.organizationId, row.channel, row.outcome, row.note, row.at],
    );
    return inserted;
  }

  contactAttempts(manager: EntityManager, referralId: string): Promise<ContactAttemptRow[]> {
    return manager.query(
      `SELECT id, referral_id AS "referralId", organization_id AS "organizationId", channel, outcome,
              note, at, recorded_at AS "recordedAt"
         FROM "${this.schema}".contact_attempt WHERE referral_id = $1 ORDER BY at, recorded_at`,
      [referralId],
    );
  }

  async insertOutcome(
    manager: EntityManager,
    row: Omit<FollowupOutcomeRow, 'recordedAt'>,
  ): Promise<FollowupOutcomeRow> {
    const [inserted] = await manager.query(
      `INSERT INTO "${this.schema}".followup_outcome (id, referral_id, organization_id, status, note, at)
       VALUES ($1, $2, $3, $4, $5, $6)
       RETURNING id, referral_id AS "referralId", organization_id AS "organizationId", status, note,
         at, recorded_at AS "recordedAt"`,
      [row.id, row.referralId, row.organizationId, row.status, row.note, row.at],
    );
    return inserted;
  }

  outcomes(manager: EntityManager, referralId: string): Promise<FollowupOutcomeRow[]> {
    return manager.query(
      `SELECT id, referral_id AS "referralId", organization_id AS "organizationId", status, note, at,
              recorded_at AS "recordedAt"
         FROM "${this.schema}".followup_outcome WHERE referral_id = $1 ORDER BY at, recorded_at`,
      [referralId],
    );
  }
}
