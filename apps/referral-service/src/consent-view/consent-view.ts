import { Inject, Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import type { ConsentEventV1 } from '@carerelay/contracts';
import { SERVICE_SCHEMA } from '@carerelay/persistence';

export type ConsentViewState = 'granted' | 'revoked' | 'expired';

/** Who a patient's active consents let CareRelay disclose referral data to, right now. */
export interface ConsentCoverage {
  networkWide: boolean;
  organizationIds: string[];
  /** Named organizations a network-wide grant does not reach (a deny, a withdrawn consent). */
  blockedOrganizationIds?: string[];
}

export const coversOrganization = (coverage: ConsentCoverage, organizationId: string): boolean =>
  coverage.organizationIds.includes(organizationId) ||
  (coverage.networkWide && !(coverage.blockedOrganizationIds ?? []).includes(organizationId));

export const coversAnyone = (coverage: ConsentCoverage): boolean =>
  coverage.networkWide || coverage.organizationIds.length > 0;

/** The referral service's copy of consent decisions, kept from consent.events.v1. */
@Injectable()
export class ConsentView {
  constructor(@Inject(SERVICE_SCHEMA) private readonly schema: string) {}

  async record(
    manager: EntityManager,
    state: ConsentViewState,
    data: ConsentEventV1,
  ): Promise<void> {
    await manager.query(
      `INSERT INTO "${this.schema}".consent_view
         (consent_id, organization_key, patient_id, organization_id, state, period_end, security_labels, occurred_at)
       VALUES ($1, coalesce($2, '*'), $3, $2, $4, $5, $6, $7)
       ON CONFLICT (consent_id, organization_key) DO UPDATE SET state = EXCLUDED.state,
         period_end = EXCLUDED.period_end, security_labels = EXCLUDED.security_labels,
         occurred_at = EXCLUDED.occurred_at
       WHERE "${this.schema}".consent_view.occurred_at <= EXCLUDED.occurred_at`,
      [
        data.consentId,
        data.organizationId,
        data.patientId,
        state,
        data.periodEnd ?? null,
        data.securityLabels,
        data.occurredAt,
      ],
    );
  }

  /**
   * Serializes, per patient, the transactions that read consents and those that change them:
   * a referral's intake (reads coverage, inserts the referral) and a consent event (records it,
   * then looks for the patient's waiting referrals). Without it, running concurrently, each misses
   * the other's uncommitted row and the referral waits for a consent it already has.
   */
  async lockPatient(manager: EntityManager, patientId: string): Promise<void> {
    await manager.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
      `referral-consent:${patientId}`,
    ]);
  }

  async coverage(
    manager: EntityManager,
    patientId: string,
    at = new Date(),
  ): Promise<ConsentCoverage> {
    const rows: ConsentRow[] = await manager.query(
      `SELECT organization_id, state, period_end, occurred_at FROM "${this.schema}".consent_view
       WHERE patient_id = $1`,
      [patientId],
    );
    return coverageFrom(rows, at);
  }
}

export interface ConsentRow {
  organization_id: string | null;
  state: ConsentViewState;
  period_end: Date | string | null;
  occurred_at: Date | string;
}

/**
 * Who may receive the patient's referral data now. A grant counts while its period runs. An
 * organization whose newest announcement is a revocation (its consent withdrawn, or a deny naming
 * it) is blocked unless a grant — its own or a network-wide one — was announced after that.
 */
export function coverageFrom(rows: ConsentRow[], at = new Date()): ConsentCoverage {
  const time = (value: Date | string) => new Date(value).getTime();
  const inForce = (row: ConsentRow) =>
    row.state === 'granted' && (row.period_end === null || time(row.period_end) > at.getTime());
  const latest = (filter: (row: ConsentRow) => boolean) =>
    Math.max(-Infinity, ...rows.filter(filter).map((row) => time(row.occurred_at)));
  const networkGrantAt = latest((row) => row.organization_id === null && inForce(row));
  const organizations = [
    ...new Set(rows.flatMap((row) => (row.organization_id ? [row.organization_id] : []))),
  ];
  const covered = organizations.filter((organizationId) => {
    const revokedAt = latest(
      (row) => row.organization_id === organizationId && row.state !== 'granted',
    );
    const grantedAt = latest((row) => row.organization_id === organizationId && inForce(row));
    return Math.max(grantedAt, networkGrantAt) > revokedAt;
  });
  const blocked = organizations.filter((organizationId) => !covered.includes(organizationId));
  return {
    networkWide: networkGrantAt > -Infinity,
    organizationIds: covered,
    blockedOrganizationIds: blocked,
  };
}
