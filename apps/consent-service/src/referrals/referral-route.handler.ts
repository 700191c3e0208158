import { Controller, Inject } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { CloudEvent, ReferralEventTypes, ReferralEventV1 } from '@carerelay/contracts';
import { EventContext } from '@carerelay/messaging';
import { SERVICE_SCHEMA } from '@carerelay/persistence';

/**
 * Keeps, per referral, its patient and the organization it was last routed to, from
 * referral.events.v1 (keyed by referral id, so in order; an event older than the stored one
 * changes nothing all the same). Only the events that can change the route reach it (see
 * referral-route.rules.ts), so `state` is that of the last of those, not the referral's own.
 */
@Controller()
export class ReferralRouteHandler {
  constructor(@Inject(SERVICE_SCHEMA) private readonly schema: string) {}

  @EventPattern(Object.values(ReferralEventTypes).map((definition) => definition.type))
  async onReferralEvent(
    @Payload() event: CloudEvent<ReferralEventV1>,
    @Ctx() context: EventContext,
  ): Promise<void> {
    const data = event.data;
    await context.manager.query(
      `INSERT INTO "${this.schema}".referral_route
         (referral_id, patient_id, organization_id, state, occurred_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, now())
       ON CONFLICT (referral_id) DO UPDATE SET
         patient_id = COALESCE(EXCLUDED.patient_id, referral_route.patient_id),
         organization_id = COALESCE(EXCLUDED.organization_id, referral_route.organization_id),
         state = EXCLUDED.state, occurred_at = EXCLUDED.occurred_at, updated_at = now()
       WHERE referral_route.occurred_at <= EXCLUDED.occurred_at`,
      [
        data.referralId,
        data.patientId ?? null,
        data.targetOrganizationId ?? null,
        data.state,
        data.occurredAt,
      ],
    );
  }
}
