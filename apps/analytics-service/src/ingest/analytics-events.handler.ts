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

/** The resources the read model follows; changes of others are passed over before any SQL. */
const FOLLOWED_RESOURCES = new Set(['Patient', 'ServiceRequest', 'Task', 'Coverage']);

export function ignoredByAnalytics(event: CloudEvent): boolean {
  if (event.type !== EventTypes.fhirResourceChanged.type) return false;
  const d = event.data as FhirResourceChangedV1;
  return d.action === 'delete' || !d.resource || !FOLLOWED_RESOURCES.has(d.resourceType);
}

/**
 * Feeds the read model in the inbox transaction (the consumer runs in batch mode: many events per
 * transaction, their rows written together): a redelivered event is skipped by the inbox, and
 * every write is an upsert that does not depend on what arrived before.
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
    await context.defer(this.readModel.referralEvents, {
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
    await context.defer(this.readModel.followupEvents, {
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
    await context.defer(this.readModel.consentStates, {
      patientKey: key,
      status: CONSENT_STATUS[event.type],
      occurredAt: event.data.occurredAt,
    });
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
    if (facts)
      await context.defer(this.readModel.directoryServices, { facts, updatedAt: d.occurredAt });
  }

  @EventPattern(EventTypes.fhirResourceChanged.type)
  async onResourceChanged(
    @Payload() event: CloudEvent<FhirResourceChangedV1>,
    @Ctx() context: EventContext,
  ): Promise<void> {
    const d = event.data;
    if (ignoredByAnalytics(event) || !d.resource) return;
    const updatedAt = d.lastUpdated;
    switch (d.resourceType) {
      case 'Patient':
        return context.defer(this.readModel.patients, {
          facts: patientFactsOf(d.id, d.resource, new Date(d.lastUpdated)),
          updatedAt,
        });
      case 'ServiceRequest':
        return context.defer(this.readModel.serviceRequests, {
          facts: serviceRequestFactsOf(d.id, d.resource),
          updatedAt,
        });
      case 'Task':
        return context.defer(this.readModel.tasks, {
          facts: taskFactsOf(d.id, d.resource),
          updatedAt,
        });
      case 'Coverage':
        return context.defer(this.readModel.coverages, {
          facts: coverageFactsOf(d.id, d.resource),
          updatedAt,
        });
      default:
        return;
    }
  }
}
