import type { EntityManager } from 'typeorm';
import { type ConsentRuleRow, coveredSql } from './consent-access';
import { SqlParams } from './sql';

/** `consent_rules`: the stored Consents flattened, as read-time consent checks query them. */
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

  /** Does a consent in force now cover disclosing this patient's data to the organization? */
  async covers(patientId: string, organizationId: string): Promise<boolean> {
    const p = new SqlParams();
    const patient = p.add(patientId);
    const org = p.add(organizationId);
    const [row] = await this.manager.query(
      `SELECT ${coveredSql(this.schema, patient, org)} AS covered`,
      p.values,
    );
    return (row as { covered: boolean }).covered === true;
  }
}
