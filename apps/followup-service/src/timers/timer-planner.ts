import { Inject, Injectable, Logger } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import type { ReferralEventV1 } from '@carerelay/contracts';
import { DEFAULT_NETWORK } from '../policy/followup-policy';
import { PolicyStore } from '../policy/policy.store';
import { ReferralTrack, TimerPlan, planActivity, planReferralEvent } from './timer.rules';
import { TimerStore } from './timer.store';

/** Loads a referral's track and policy, plans with the pure rules, and writes the result. */
@Injectable()
export class TimerPlanner {
  private readonly logger = new Logger(TimerPlanner.name);

  constructor(
    @Inject(TimerStore) private readonly timers: TimerStore,
    @Inject(PolicyStore) private readonly policies: PolicyStore,
  ) {}

  async onReferralEvent(manager: EntityManager, event: ReferralEventV1): Promise<TimerPlan> {
    const track = await this.timers.lockTrack(manager, event.referralId);
    track.networkId ??= await this.policies.networkOf(manager, [
      event.requesterOrganizationId,
      event.targetOrganizationId,
    ]);
    const policy = await this.policies.effective(manager, track.networkId);
    const plan = planReferralEvent(
      track,
      {
        state: event.state,
        occurredAt: new Date(event.occurredAt),
        attempt: event.attempt,
        targetOrganizationId: event.targetOrganizationId,
      },
      policy,
    );
    if (plan.ignored.length > 0) {
      this.logger.debug(`${event.referralId} ${event.state}: ${plan.ignored.join('; ')}`);
    }
    await this.apply(manager, plan);
    return plan;
  }

  /** A contact attempt or follow-up outcome: activity for the inactivity reminders. */
  async onActivity(manager: EntityManager, referralId: string, at: Date): Promise<TimerPlan> {
    const track = await this.timers.lockTrack(manager, referralId);
    const policy = await this.policies.effective(manager, track.networkId);
    const plan = planActivity(track, at, policy);
    await this.apply(manager, plan);
    return plan;
  }

  private async apply(manager: EntityManager, plan: TimerPlan): Promise<void> {
    const track: ReferralTrack = plan.track;
    await this.timers.cancel(manager, track.referralId, plan.cancel);
    await this.timers.insert(
      manager,
      track.referralId,
      track.networkId ?? DEFAULT_NETWORK,
      plan.start,
    );
    await this.timers.saveTrack(manager, track);
  }
}
