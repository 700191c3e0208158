import type { EntityManager } from 'typeorm';

/** A resource an access grant opens: its type and id. */
export interface GrantTarget {
  type: string;
  id: string;
}

/** `access_grants`: what an organization may see beyond its own resources (consent-access.ts). */
export class AccessGrantRepository {
  private readonly s: string;

  constructor(
    private readonly manager: EntityManager,
    schema: string,
  ) {
    this.s = `"${schema}"`;
  }

  /** The references of a ServiceRequest's `basedOn` (by its current version). */
  async basedOnOf(serviceRequestId: string): Promise<Array<string | null>> {
    const rows: { ref: string | null }[] = await this.manager.query(
      `SELECT jsonb_array_elements(content->'basedOn')->>'reference' AS ref
         FROM ${this.s}.resources WHERE resource_type = 'ServiceRequest' AND id = $1`,
      [serviceRequestId],
    );
    return rows.map((r) => r.ref);
  }

  async grant(
    organizationId: string,
    patientId: string | null,
    taskId: string,
    targets: readonly GrantTarget[],
  ): Promise<void> {
    await this.manager.query(
      `INSERT INTO ${this.s}.access_grants (organization_id, resource_type, resource_id, patient_id, task_id)
       SELECT $1, t.type, t.id, $2, $3 FROM unnest($4::text[], $5::text[]) AS t(type, id)
       ON CONFLICT DO NOTHING`,
      [organizationId, patientId, taskId, targets.map((t) => t.type), targets.map((t) => t.id)],
    );
  }

  /** Grants every stored Consent of the patient. */
  async grantPatientConsents(
    organizationId: string,
    patientId: string,
    taskId: string,
  ): Promise<void> {
    await this.manager.query(
      `INSERT INTO ${this.s}.access_grants (organization_id, resource_type, resource_id, patient_id, task_id)
       SELECT $1, 'Consent', id, $2, $3 FROM ${this.s}.resources
        WHERE resource_type = 'Consent' AND patient_id = $2
       ON CONFLICT DO NOTHING`,
      [organizationId, patientId, taskId],
    );
  }

  /**
   * Grants the targets to the organizations that requested the `parents` Tasks and to
   * `requesterOrg`, except `ownerOrg`.
   */
  async grantReferrers(grant: {
    patientId: string | null;
    taskId: string;
    parents: readonly string[];
    requesterOrg: string | null;
    ownerOrg: string | null;
    targets: readonly GrantTarget[];
  }): Promise<void> {
    await this.manager.query(
      `INSERT INTO ${this.s}.access_grants (organization_id, resource_type, resource_id, patient_id, task_id)
       SELECT g.org, t.type, t.id, $1, $2
         FROM (SELECT requester_org AS org FROM ${this.s}.resources
                WHERE resource_type = 'Task' AND id = ANY($3::text[])
               UNION SELECT $4::text) AS g
        CROSS JOIN unnest($5::text[], $6::text[]) AS t(type, id)
        WHERE g.org IS NOT NULL AND g.org IS DISTINCT FROM $7::text
       ON CONFLICT DO NOTHING`,
      [
        grant.patientId,
        grant.taskId,
        grant.parents,
        grant.requesterOrg,
        grant.targets.map((t) => t.type),
        grant.targets.map((t) => t.id),
        grant.ownerOrg,
      ],
    );
  }

  /** A Consent stored after its patient was granted reaches the organizations granted the patient. */
  async extendToConsent(consentId: string, patientId: string): Promise<void> {
    await this.manager.query(
      `INSERT INTO ${this.s}.access_grants (organization_id, resource_type, resource_id, patient_id, task_id)
       SELECT organization_id, 'Consent', $1, patient_id, task_id FROM ${this.s}.access_grants
        WHERE resource_type = 'Patient' AND resource_id = $2
       ON CONFLICT DO NOTHING`,
      [consentId, patientId],
    );
  }
}
