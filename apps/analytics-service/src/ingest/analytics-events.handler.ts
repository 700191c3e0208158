import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import {
  CloudEvent,
  ConsentEventV1,
  DirectoryEventV1,
  EventTypes,
  FhirResourceChangedV1,
  FollowupEventV1,
  ReferralEventTypes,
  ReferralEventV1,
} from '@carerelay/contracts';
import { EventContext } from '@carerelay/messaging';
import {
  coverageFactsOf,
  patientFactsOf,
  patientKeyOf,
  serviceRequestFactsOf,
  taskFactsOf,
} from './fhir-facts';
import { directoryServiceFactsOf } from './directory-facts';
import { ReadModelRepository } from './read-model.repository';
import { reasonCodeOf } from './reason-codes';

const REFERRAL_EVENT_TYPES = Object.values(ReferralEventTypes).map((d) => d.type);
const FOLLOWUP_EVENT_TYPES = [
  EventTypes.followupDue.type,
  EventTypes.followupBreached.type,
  EventTypes.followupRecorded.type,
];
const CONSENT_STATUS: Record<string, string> = {
  [EventTypes.consentGranted.type]: 'granted',
  [EventTypes.consentRevoked.type]: 'revoked',
  [EventTypes.consentExpired.type]: 'expired',
};

/**
 * Feeds the read model, each event in its inbox transaction: a redelivered event is skipped by
 * the inbox, and every write is an upsert that does not depend on what arrived before.
 */
@Controller()
export class AnalyticsEventsHandler {
  constructor(private readonly readModel: ReadModelRepository) {}

  @EventPattern(REFERRAL_EVENT_TYPES)
  async onReferralEvent(
    @Payload() event: CloudEvent<ReferralEventV1>,
    @Ctx() context: EventContext,
  ): Promise<void> {
    const d = event.data;
    await this.readModel.addReferralEvent(context.manager, {
      eventId: event.id,
      referralId: d.referralId,
      state: d.state,
      occurredAt: d.occurredAt,
      attempt: d.attempt ?? null,
      reasonCode: reasonCodeOf(d.reason),
      requesterOrg: d.requesterOrganizationId ?? null,
      targetOrg: d.targetOrganizationId ?? null,
      patientKey: patientKeyOf(d.patientId),
    });
  }

  @EventPattern(FOLLOWUP_EVENT_TYPES)
  async onFollowupEvent(
    @Payload() event: CloudEvent<FollowupEventV1>,
    @Ctx() context: EventContext,
  ): Promise<void> {
    const d = event.data;
    // A timer fires once: its id identifies the breach even if it is published twice.
    const timerId = typeof d.detail?.timerId === 'string' ? d.detail.timerId : undefined;
    await this.readModel.addFollowupEvent(context.manager, {
      dedupeKey: timerId ? `timer:${timerId}` : `event:${event.id}`,
      referralId: d.referralId,
      kind: d.kind,
      breached: event.type === EventTypes.followupBreached.type,
      occurredAt: d.occurredAt,
    });
  }

  @EventPattern(Object.keys(CONSENT_STATUS))
  async onConsentEvent(
    @Payload() event: CloudEvent<ConsentEventV1>,
    @Ctx() context: EventContext,
  ): Promise<void> {
    const key = patientKeyOf(event.data.patientId);
    if (!key) return;
    await this.readModel.setConsentState(
      context.manager,
      key,
      CONSENT_STATUS[event.type],
      event.data.occurredAt,
    );
  }

  @EventPattern([
    EventTypes.directoryServiceUpserted.type,
    EventTypes.directoryCapacityChanged.type,
  ])
  async onDirectoryService(
    @Payload() event: CloudEvent<DirectoryEventV1>,
    @Ctx() context: EventContext,
  ): Promise<void> {
    const d = event.data;
    const facts = directoryServiceFactsOf(d.organizationId, d.serviceId, d.record);
    if (facts) await this.readModel.upsertDirectoryService(context.manager, facts, d.occurredAt);
  }

  @EventPattern(EventTypes.fhirResourceChanged.type)
  async onResourceChanged(
    @Payload() event: CloudEvent<FhirResourceChangedV1>,
    @Ctx() context: EventContext,
  ): Promise<void> {
    const d = event.data;
    if (d.action === 'delete' || !d.resource) return;
    const manager = context.manager;
    switch (d.resourceType) {
      case 'Patient':
        return this.readModel.upsertPatient(
          manager,
          patientFactsOf(d.id, d.resource, new Date(d.lastUpdated)),
          d.lastUpdated,
        );
      case 'ServiceRequest':
        return this.readModel.upsertServiceRequest(
          manager,
          serviceRequestFactsOf(d.id, d.resource),
          d.lastUpdated,
        );
      case 'Task':
        return this.readModel.upsertTask(manager, taskFactsOf(d.id, d.resource), d.lastUpdated);
      case 'Coverage':
        return this.readModel.upsertCoverage(
          manager,
          coverageFactsOf(d.id, d.resource),
          d.lastUpdated,
        );
      default:
        return;
    }
  }
}
