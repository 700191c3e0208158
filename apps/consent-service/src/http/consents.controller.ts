import { Controller, Get, NotFoundException, Param, Query, UsePipes } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Roles } from '@carerelay/auth';
import { Inject } from '@nestjs/common';
import { isDisclosureAllowed, isInForce } from '@carerelay/consent';
import { ConsentLedger } from '../consents/consent.ledger';
import { DecisionQuery, PatientParams } from './consent-queries.dto';
import { strictValidation } from '@carerelay/http';
import { SERVICE_SCHEMA } from '@carerelay/persistence';

/** Consent decisions and a patient's consents (PHI): the platform and operators only. */
@Roles('platform', 'admin')
@Controller()
@UsePipes(strictValidation())
export class ConsentsController {
  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: ConsentLedger,
    @Inject(SERVICE_SCHEMA) private readonly schema: string,
  ) {}

  /** { allowed, consentId, code, reason } for one disclosure; read-only. */
  @Get('consents/decision')
  async decision(@Query() query: DecisionQuery) {
    let { patient, organization } = query;
    if (query.referral !== undefined && (patient === undefined || organization === undefined)) {
      const [route]: Array<{ patient_id: string | null; organization_id: string | null }> =
        await this.dataSource.query(
          `SELECT patient_id, organization_id FROM "${this.schema}".referral_route WHERE referral_id = $1`,
          [query.referral],
        );
      if (!route) throw new NotFoundException(`referral ${query.referral} is not known`);
      patient ??= route.patient_id ?? undefined;
      organization ??= route.organization_id ?? undefined;
      if (patient === undefined || organization === undefined) {
        throw new NotFoundException(
          `referral ${query.referral} has no ${patient === undefined ? 'patient' : 'routed organization'} yet`,
        );
      }
    }
    const at = query.at === undefined ? new Date() : new Date(query.at);
    const decisions = await this.ledger.decisionsOf(this.dataSource.manager, patient!);
    const answer = isDisclosureAllowed(decisions, {
      patientId: patient!,
      organizationId: organization!,
      at,
      labels: query.labels,
      purpose: query.purpose,
    });
    return {
      allowed: answer.allowed,
      consentId: answer.consentId ?? null,
      code: answer.code,
      reason: answer.reason,
      patientId: patient,
      organizationId: organization,
      at: at.toISOString(),
    };
  }

  /** Every consent on record for the patient (newest version of each), with what is in force. */
  @Get('patients/:id/consents')
  async patientConsents(@Param() params: PatientParams) {
    const now = new Date();
    const manager = this.dataSource.manager;
    const consents = await this.ledger.consentsOf(manager, params.id);
    const grants = await this.ledger.announcedGrants(manager, params.id);
    return {
      patientId: params.id,
      at: now.toISOString(),
      consents: consents.map((consent) => ({
        consentId: consent.consentId,
        versionId: consent.versionId,
        lastUpdated: consent.lastUpdated,
        deleted: consent.deleted,
        inForce: consent.decision !== null && !consent.deleted && isInForce(consent.decision, now),
        decision: consent.decision,
        problem: consent.problem,
      })),
      announced: grants.map((grant) => ({
        kind: grant.kind,
        consentId: grant.consentId,
        organizationId: grant.organizationKey === '*' ? null : grant.organizationKey,
        periodStart: grant.periodStart,
        periodEnd: grant.periodEnd,
        securityLabels: grant.securityLabels,
      })),
    };
  }
}
