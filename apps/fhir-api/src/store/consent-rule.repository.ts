import type { Consent } from '@medplum/fhirtypes';
import type { EntityManager } from 'typeorm';
import { type ConsentDecision, decisionsOf } from '@carerelay/consent';
import type { ConsentRuleRow } from './consent-access';

/**
 * `consent_rules`: the stored Consents flattened, as read-time consent checks query them; and the
 * stored Consents themselves, for the decisions that need all of a Consent (labels, purposes).
 */
export class ConsentRuleRepository {
  constructor(
    private readonly manager: EntityManager,
    private readonly schema: string,
  ) {}

  /** Replaces the rules of one Consent; a new Consent (`created`) has none to remove. */
  async replace(
    consentId: string,
    rows: readonly ConsentRuleRow[],
    created = false,
  ): Promise<void> {
    const s = `"${this.schema}"`;
    if (!created)
      await this.manager.query(`DELETE FROM ${s}.consent_rules WHERE consent_id = $1`, [consentId]);
    if (rows.length === 0) return;
    await this.manager.query(
      `INSERT INTO ${s}.consent_rules (consent_id, organization_key, patient_id, kind, active,
         period_start, period_end, usable, full_deny)
       SELECT x.consent_id, x.organization_key, x.patient_id, x.kind, x.active, x.period_start,
         x.period_end, x.usable, x.full_deny
       FROM jsonb_to_recordset($1::jsonb) AS x(consent_id text, organization_key text, patient_id text,
         kind text, active boolean, period_start timestamptz, period_end timestamptz, usable boolean,
         full_deny boolean)`,
      [JSON.stringify(rows)],
    );
  }

  /**
   * The decisions of the current, non-deleted Consents of these patients, by patient: one query
   * whatever the number of patients (a search page's).
   */
  async decisionsOf(patientIds: readonly string[]): Promise<Map<string, ConsentDecision[]>> {
    const rows: Array<{ content: Consent }> = await this.manager.query(
      `SELECT content FROM "${this.schema}".resources
       WHERE resource_type = 'Consent' AND patient_id = ANY($1::text[]) AND NOT deleted`,
      [patientIds],
    );
    const byPatient = new Map<string, ConsentDecision[]>();
    for (const decision of decisionsOf(rows.map((row) => row.content))) {
      byPatient.set(decision.patientId, [...(byPatient.get(decision.patientId) ?? []), decision]);
    }
    return byPatient;
  }
}
