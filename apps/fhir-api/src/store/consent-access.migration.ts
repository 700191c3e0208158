import { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@carerelay/persistence';

/**
 * CBO access to a referral's patient data, gated by consent:
 *  - resources.patient_id: the Patient a resource is about (its compartment), for the consent check;
 *  - access_grants: what an organization was given access to when the platform addressed a Task
 *    to it (the Patient, the ServiceRequests, the patient's Consents);
 *  - consent_rules: each stored Consent flattened by libs/consent (one row per recipient, `*` for
 *    the whole network), kept in the same transaction as the Consent itself.
 */
export class FhirConsentAccess1732700000000 implements MigrationInterface {
  name = 'FhirConsentAccess1732700000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`ALTER TABLE "${s}".resources ADD COLUMN patient_id text`);
    await queryRunner.query(
      `CREATE INDEX resources_patient ON "${s}".resources (resource_type, patient_id) WHERE patient_id IS NOT NULL`,
    );
    await queryRunner.query(`
      CREATE TABLE "${s}".access_grants (
        organization_id text NOT NULL,
        resource_type text NOT NULL,
        resource_id text NOT NULL,
        patient_id text,
        task_id text NOT NULL,
        granted_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (organization_id, resource_type, resource_id)
      )`);
    await queryRunner.query(
      `CREATE INDEX access_grants_patient ON "${s}".access_grants (patient_id, resource_type)`,
    );
    await queryRunner.query(`
      CREATE TABLE "${s}".consent_rules (
        consent_id text NOT NULL,
        organization_key text NOT NULL,
        patient_id text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('permit', 'deny')),
        active boolean NOT NULL,
        period_start timestamptz,
        period_end timestamptz,
        usable boolean NOT NULL,
        full_deny boolean NOT NULL,
        PRIMARY KEY (consent_id, organization_key)
      )`);
    await queryRunner.query(
      `CREATE INDEX consent_rules_patient ON "${s}".consent_rules (patient_id, organization_key)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = schemaOf(queryRunner);
    await queryRunner.query(`DROP TABLE "${s}".consent_rules`);
    await queryRunner.query(`DROP TABLE "${s}".access_grants`);
    await queryRunner.query(`ALTER TABLE "${s}".resources DROP COLUMN patient_id`);
  }
}
