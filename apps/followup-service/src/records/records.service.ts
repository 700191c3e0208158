import { BadRequestException, Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { EventTypes } from '@carerelay/contracts';
import { OutboxWriter } from '@carerelay/messaging';
import { TimerPlanner } from '../timers/timer-planner';
import { TimerRow, TimerStore } from '../timers/timer.store';
import { ContactAttemptDto, FollowupOutcomeDto } from './records.dto';
import { RecordsRepository } from './records.repository';

/** Clocks of case managers' devices run a little ahead; more than this is a mistake. */
const FUTURE_TOLERANCE_MS = 5 * 60_000;

function timeOf(at: string | undefined, now: Date): Date {
  if (at === undefined) return now;
  const time = new Date(at);
  if (time.getTime() > now.getTime() + FUTURE_TOLERANCE_MS) {
    throw new BadRequestException(['at must not be in the future']);
  }
  return time;
}

const withStatus = (timer: TimerRow) => ({
  ...timer,
  status: timer.firedAt ? 'fired' : timer.cancelledAt ? 'cancelled' : 'pending',
});

/**
 * Contact attempts and follow-up outcomes: each is stored with `followup.recorded` in one
 * transaction and counts as activity for the inactivity reminders. Notes stay here: events carry
 * whether there is one, never its text.
 */
@Injectable()
export class RecordsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: OutboxWriter,
    private readonly planner: TimerPlanner,
    private readonly records: RecordsRepository,
    @Inject(TimerStore) private readonly timers: TimerStore,
  ) {}

  recordContactAttempt(referralId: string, body: ContactAttemptDto) {
    const at = timeOf(body.at, new Date());
    const id = randomUUID();
    return this.dataSource.transaction(async (manager) => {
      const row = await this.records.insertContactAttempt(manager, {
        id,
        referralId,
        organizationId: body.organizationId ?? null,
        channel: body.channel,
        outcome: body.outcome,
        note: body.note ?? null,
        at,
      });
      await this.recorded(manager, referralId, at, body.organizationId, {
        record: 'contact-attempt',
        id,
        channel: body.channel,
        outcome: body.outcome,
        hasNote: !!body.note,
      });
      return row;
    });
  }

  contactAttempts(referralId: string) {
    return this.records.contactAttempts(this.dataSource.manager, referralId);
  }

  recordOutcome(referralId: string, body: FollowupOutcomeDto) {
    const at = timeOf(body.at, new Date());
    const id = randomUUID();
    return this.dataSource.transaction(async (manager) => {
      const row = await this.records.insertOutcome(manager, {
        id,
        referralId,
        organizationId: body.organizationId ?? null,
        status: body.status,
        note: body.note ?? null,
        at,
      });
      await this.recorded(manager, referralId, at, body.organizationId, {
        record: 'followup-outcome',
        id,
        status: body.status,
        hasNote: !!body.note,
      });
      return row;
    });
  }

  outcomes(referralId: string) {
    return this.records.outcomes(this.dataSource.manager, referralId);
  }

  /** Every timer of the referral, pending, fired or cancelled, for coordinators. */
  async timersOf(referralId: string) {
    return (await this.timers.forReferral(this.dataSource.manager, referralId)).map(withStatus);
  }

  /** Every timer of each of these referrals, in one list ordered by referral. */
  async timersOfMany(referralIds: readonly string[]) {
    const ids = [...new Set(referralIds)];
    return (await this.timers.forReferrals(this.dataSource.manager, ids)).map(withStatus);
  }

  private async recorded(
    manager: EntityManager,
    referralId: string,
    at: Date,
    organizationId: string | undefined,
    detail: Record<string, unknown>,
  ): Promise<void> {
    await this.planner.onActivity(manager, referralId, at);
    await this.outbox.append(
      manager,
      EventTypes.followupRecorded,
      {
        referralId,
        kind: detail.record as string,
        occurredAt: at.toISOString(),
        organizationId,
        detail,
      },
      { subject: referralId },
    );
  }
}
