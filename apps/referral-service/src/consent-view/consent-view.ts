import { Inject, Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import type { ConsentEventV1 } from '@carerelay/contracts';
import { REFERRAL_SCHEMA_TOKEN } from '../referral-schema.token';

export type ConsentViewState = 'granted' | 'revoked' | 'expired';

/** Who a patient's active consents let CareRelay disclose referral data to, right now. */
export interface ConsentCoverage {
  networkWide: boolean;
  organizationIds: string[];
}

export const coversOrganization = (coverage: ConsentCoverage, organizationId: string): boolean =>
  coverage.networkWide || coverage.organizationIds.includes(organizationId);

export const coversAnyone = (coverage: ConsentCoverage): boolean =>
  coverage.networkWide || coverage.organizationIds.length > 0;

/** The referral service's copy of consent decisions, kept from consent.events.v1. */
@Injectable()
export class ConsentView {
  constructor(@Inject(REFERRAL_SCHEMA_TOKEN) private readonly schema: string) {}

  async record(
    manager: EntityManager,
    state: ConsentViewState,
    data: ConsentEventV1,
  ): Promise<void> {
    await manager.query(
      `INSERT INTO "${this.schema}".consent_view
         (consent_id, patient_id, organization_id, state, period_end, security_labels, occurred_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (consent_id) DO UPDATE SET patient_id = EXCLUDED.patient_id,
         organization_id = EXCLUDED.organization_id, state = EXCLUDED.state,
         period_end = EXCLUDED.period_end, security_labels = EXCLUDED.security_labels,
         occurred_at = EXCLUDED.occurred_at
       WHERE "${this.schema}".consent_view.occurred_at <= EXCLUDED.occurred_at`,
      [
        data.consentId,
        data.patientId,
        data.organizationId,
        state,
        data.periodEnd ?? null,
        data.securityLabels,
        data.occurredAt,
      ],
    );
  }

  async coverage(
    manager: EntityManager,
    patientId: string,
    at = new Date(),
  ): Promise<ConsentCoverage> {
    const rows: Array<{ organization_id: string | null }> = await manager.query(
      `SELECT organization_id FROM "${this.schema}".consent_view
       WHERE patient_id = $1 AND state = 'granted' AND (period_end IS NULL OR period_end > $2)`,
      [patientId, at.toISOString()],
    );
    return {
      networkWide: rows.some((row) => row.organization_id === null),
      organizationIds: rows.flatMap((row) => (row.organization_id ? [row.organization_id] : [])),
    };
  }
}
