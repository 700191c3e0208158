import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import {
  CloudEvent,
  EventTypes,
  FhirResourceChangedV1,
  ReferralEventTypes,
} from '@carerelay/contracts';
import { EventContext, OutboxWriter } from '@carerelay/messaging';
import { Referral } from './referral.entity';
import { newReferralFrom } from './referral-intake.rules';

/** Turns a new source Task on fhir.changes.v1 into a referral and announces `referral.requested`. */
@Controller()
export class ReferralIntakeHandler {
  constructor(private readonly outbox: OutboxWriter) {}

  @EventPattern(EventTypes.fhirResourceChanged.type)
  async onResourceChanged(
    @Payload() event: CloudEvent<FhirResourceChangedV1>,
    @Ctx() context: EventContext,
  ): Promise<void> {
    const referral = newReferralFrom(event.data);
    if (!referral) return;
    const referrals = context.manager.getRepository(Referral);
    if (await referrals.existsBy({ id: referral.taskId })) return;
    await referrals.insert({
      id: referral.taskId,
      sourceTaskVersion: referral.taskVersion,
      requesterOrganizationId: referral.requesterOrganizationId ?? null,
      patientId: referral.patientId ?? null,
      serviceRequestId: referral.serviceRequestId ?? null,
      state: 'requested',
    });
    await this.outbox.append(
      context.manager,
      ReferralEventTypes.requested,
      {
        referralId: referral.taskId,
        state: 'requested',
        occurredAt: new Date().toISOString(),
        sourceTaskId: referral.taskId,
        requesterOrganizationId: referral.requesterOrganizationId,
        patientId: referral.patientId,
      },
      { subject: referral.taskId, traceparent: event.traceparent },
    );
  }
}
