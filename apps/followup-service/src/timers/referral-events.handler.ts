import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { CloudEvent, ReferralEventTypes, ReferralEventV1 } from '@carerelay/contracts';
import { EventContext } from '@carerelay/messaging';
import { TimerPlanner } from './timer-planner';

const REFERRAL_EVENT_TYPES = Object.values(ReferralEventTypes).map((definition) => definition.type);

/**
 * Every referral event on referral.events.v1 adjusts the referral's timers, in the inbox
 * transaction: a redelivered event is skipped by the inbox, a stale one by the rules.
 */
@Controller()
export class ReferralEventsHandler {
  constructor(private readonly planner: TimerPlanner) {}

  @EventPattern(REFERRAL_EVENT_TYPES)
  async onReferralEvent(
    @Payload() event: CloudEvent<ReferralEventV1>,
    @Ctx() context: EventContext,
  ): Promise<void> {
    await this.planner.onReferralEvent(context.manager, event.data);
  }
}
