import { BadRequestException, Body, Controller, Get, Inject, Param, Post } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { Roles } from '@carerelay/auth';
import { EventTypes } from '@carerelay/contracts';
import { OutboxWriter } from '@carerelay/messaging';
import { SERVICE_SCHEMA } from '@carerelay/persistence';
import { bodyValidation, checkId } from '../http/validation';
import { TimerPlanner } from '../timers/timer-planner';
import { TimerStore } from '../timers/timer.store';
import { ContactAttemptDto, FollowupOutcomeDto } from './records.dto';

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

/**
 * Contact attempts and follow-up outcomes recorded by case managers. Each is stored with
 * `followup.recorded` in one transaction and counts as activity for the inactivity reminders.
 * Notes stay here: events carry whether there is one, never its text. The platform and operators
 * only: a record names a referral of any organization.
 */
@Roles('platform', 'admin')
@Controller('referrals/:referralId')
export class RecordsController {
  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: OutboxWriter,
    private readonly planner: TimerPlanner,
    @Inject(TimerStore) private readonly timers: TimerStore,
    @Inject(SERVICE_SCHEMA) private readonly schema: string,
  ) {}

  @Post('contact-attempts')
  async recordContactAttempt(
    @Param('referralId') referralId: string,
    @Body(bodyValidation) body: ContactAttemptDto,
  ) {
    checkId('referralId', referralId);
    const at = timeOf(body.at, new Date());
    const id = randomUUID();
    return this.dataSource.transaction(async (manager) => {
      const [row] = await manager.query(
        `INSERT INTO "${this.schema}".contact_attempt
           (id, referral_id, organization_id, channel, outcome, note, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING id, referral_id AS "referralId", organization_id AS "organizationId", channel,
           outcome, note, at, recorded_at AS "recordedAt"`,
        [
          id,
          referralId,
          body.organizationId ?? null,
          body.channel,
          body.outcome,
          body.note ?? null,
          at,
        ],
      );
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

  @Get('contact-attempts')
  contactAttempts(@Param('referralId') referralId: string) {
    return this.dataSource.query(
      `SELECT id, referral_id AS "referralId", organization_id AS "organizationId", channel, outcome,
              note, at, recorded_at AS "recordedAt"
         FROM "${this.schema}".contact_attempt WHERE referral_id = $1 ORDER BY at, recorded_at`,
      [checkId('referralId', referralId)],
    );
  }

  @Post('followup-outcomes')
  async recordOutcome(
    @Param('referralId') referralId: string,
    @Body(bodyValidation) body: FollowupOutcomeDto,
  ) {
    checkId('referralId', referralId);
    const at = timeOf(body.at, new Date());
    const id = randomUUID();
    return this.dataSource.transaction(async (manager) => {
      const [row] = await manager.query(
        `INSERT INTO "${this.schema}".followup_outcome (id, referral_id, organization_id, status, note, at)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id, referral_id AS "referralId", organization_id AS "organizationId", status, note,
           at, recorded_at AS "recordedAt"`,
        [id, referralId, body.organizationId ?? null, body.status, body.note ?? null, at],
      );
      await this.recorded(manager, referralId, at, body.organizationId, {
        record: 'followup-outcome',
        id,
        status: body.status,
        hasNote: !!body.note,
      });
      return row;
    });
  }

  @Get('followup-outcomes')
  outcomes(@Param('referralId') referralId: string) {
    return this.dataSource.query(
      `SELECT id, referral_id AS "referralId", organization_id AS "organizationId", status, note, at,
              recorded_at AS "recordedAt"
         FROM "${this.schema}".followup_outcome WHERE referral_id = $1 ORDER BY at, recorded_at`,
      [checkId('referralId', referralId)],
    );
  }

  /** Every timer of the referral, pending, fired or cancelled, for coordinators. */
  @Get('timers')
  async timersOf(@Param('referralId') referralId: string) {
    const rows = await this.timers.forReferral(
      this.dataSource.manager,
      checkId('referralId', referralId),
    );
    return rows.map((timer) => ({
      ...timer,
      status: timer.firedAt ? 'fired' : timer.cancelledAt ? 'cancelled' : 'pending',
    }));
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
