import { Controller, Inject } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import {
  CloudEvent,
  ConsentEventV1,
  EventTypes,
  FhirResourceChangedV1,
  FollowupEventV1,
} from '@carerelay/contracts';
import { EventContext } from '@carerelay/messaging';
import { ConsentView } from '../consent-view/consent-view';
import { awaitsLocalCopies, newReferralFrom } from './referral-intake.rules';
import { ReferralStepRunner } from './referral-step.runner';
import type { ReferralFhirGateway } from '../fhir/referral-fhir.gateway';
import { REFERRAL_FHIR_GATEWAY, ReferralWorkflowService } from './referral-workflow.service';

/**
 * FHIR changes the workflow passes over, told from the event alone: other resources than Tasks,
 * and created Tasks that are not new referrals (the platform's own CBO Tasks).
 */
export function ignoredByReferralWorkflow(event: CloudEvent): boolean {
  if (event.type !== EventTypes.fhirResourceChanged.type) return false;
  const change = event.data as FhirResourceChangedV1;
  if (change.resourceType !== 'Task' || !change.resource) return true;
  return change.action === 'create' ? !newReferralFrom(change) : change.action !== 'update';
}

/**
 * A source Task version the workflow wrote itself (a status it mirrored), told from the event and
 * the gateway's memory: a source Task's update moves a referral only when it is not one yet
 * (intake) or when its requester cancelled it, and neither is a version of ours. Cancelled
 * versions go through all the same.
 */
export function ownSourceTaskVersion(
  event: CloudEvent,
  gateway: Pick<ReferralFhirGateway, 'ownSourceTaskVersion'>,
): boolean {
  if (event.type !== EventTypes.fhirResourceChanged.type) return false;
  const change = event.data as FhirResourceChangedV1;
  return (
    change.resourceType === 'Task' &&
    change.action === 'update' &&
    change.resource?.status !== 'cancelled' &&
    gateway.ownSourceTaskVersion(change.id, change.versionId)
  );
}

/**
 * The events that move referrals: FHIR changes, consent decisions and follow-up deadlines. Each
 * is decided inside its inbox transaction; the steps decided are carried out once it commits.
 */
@Controller()
export class ReferralEventsHandler {
  constructor(
    private readonly workflow: ReferralWorkflowService,
    private readonly consents: ConsentView,
    private readonly runner: ReferralStepRunner,
    @Inject(REFERRAL_FHIR_GATEWAY)
    private readonly fhir: Pick<ReferralFhirGateway, 'localBaseUrls'>,
  ) {}

  /** Wakes the step runner once the handler's transaction commits (a plain context: now). */
  private carryOutAfterCommit(context: EventContext): void {
    const wake = () => this.runner.wake();
    if (typeof context.afterCommit === 'function') context.afterCommit(wake);
    else wake();
  }

  @EventPattern(EventTypes.fhirResourceChanged.type)
  async onResourceChanged(
    @Payload() event: CloudEvent<FhirResourceChangedV1>,
    @Ctx() context: EventContext,
  ) {
    const change = event.data;
    if (change.resourceType !== 'Task' || !change.resource) return;
    const intake = newReferralFrom(change, this.fhir.localBaseUrls);
    if (
      intake &&
      awaitsLocalCopies(change.resource as object, this.fhir.localBaseUrls) &&
      !(await this.workflow.isReferral(intake.taskId))
    )
      return;
    if (
      intake &&
      (change.action === 'create' || !(await this.workflow.isReferral(intake.taskId)))
    ) {
      await this.workflow.intake(
        context.manager,
        intake,
        { resourceType: 'Task', ...change.resource, id: change.id },
        event.traceparent,
      );
    } else if (change.action === 'update') {
      await this.workflow.taskChanged(
        context.manager,
        { ...change.resource, id: change.id },
        event.traceparent,
      );
    } else return;
    this.carryOutAfterCommit(context);
  }

  @EventPattern(EventTypes.consentGranted.type)
  async onConsentGranted(
    @Payload() event: CloudEvent<ConsentEventV1>,
    @Ctx() context: EventContext,
  ) {
    await this.consents.lockPatient(context.manager, event.data.patientId);
    await this.consents.record(context.manager, 'granted', event.data);
    await this.workflow.consentGranted(context.manager, event.data.patientId, event.traceparent);
    this.carryOutAfterCommit(context);
  }

  @EventPattern(EventTypes.consentRevoked.type)
  async onConsentRevoked(
    @Payload() event: CloudEvent<ConsentEventV1>,
    @Ctx() context: EventContext,
  ) {
    await this.consents.lockPatient(context.manager, event.data.patientId);
    await this.consents.record(context.manager, 'revoked', event.data);
    await this.workflow.consentRevoked(
      context.manager,
      event.data.patientId,
      event.data.organizationId,
      event.traceparent,
    );
    this.carryOutAfterCommit(context);
  }

  @EventPattern(EventTypes.consentExpired.type)
  async onConsentExpired(
    @Payload() event: CloudEvent<ConsentEventV1>,
    @Ctx() context: EventContext,
  ) {
    await this.consents.lockPatient(context.manager, event.data.patientId);
    await this.consents.record(context.manager, 'expired', event.data);
    await this.workflow.consentRevoked(
      context.manager,
      event.data.patientId,
      event.data.organizationId,
      event.traceparent,
    );
    this.carryOutAfterCommit(context);
  }

  @EventPattern(EventTypes.followupBreached.type)
  async onFollowupBreached(
    @Payload() event: CloudEvent<FollowupEventV1>,
    @Ctx() context: EventContext,
  ) {
    if (event.data.kind !== 'acceptance') return;
    const attempt = Number(event.data.detail?.attempt);
    if (!Number.isInteger(attempt)) return;
    await this.workflow.acceptanceBreached(
      context.manager,
      event.data.referralId,
      attempt,
      event.traceparent,
    );
    this.carryOutAfterCommit(context);
  }
}
