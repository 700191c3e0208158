import { Body, Controller, Get, Param, Post, Query } from '@nestjs/common';
import { Roles } from '@carerelay/auth';
import { checkId } from '@carerelay/http';
import { bodyValidation } from '../http/validation';
import { ContactAttemptDto, FollowupOutcomeDto, TimersQuery } from './records.dto';
import { RecordsService } from './records.service';

/**
 * Contact attempts and follow-up outcomes recorded by case managers (RecordsService). The
 * platform and operators only: a record names a referral of any organization.
 */
@Roles('platform', 'admin')
@Controller('referrals/:referralId')
export class RecordsController {
  constructor(private readonly records: RecordsService) {}

  @Post('contact-attempts')
  recordContactAttempt(
    @Param('referralId') referralId: string,
    @Body(bodyValidation) body: ContactAttemptDto,
  ) {
    return this.records.recordContactAttempt(checkId('referralId', referralId), body);
  }

  @Get('contact-attempts')
  contactAttempts(@Param('referralId') referralId: string) {
    return this.records.contactAttempts(checkId('referralId', referralId));
  }

  @Post('followup-outcomes')
  recordOutcome(
    @Param('referralId') referralId: string,
    @Body(bodyValidation) body: FollowupOutcomeDto,
  ) {
    return this.records.recordOutcome(checkId('referralId', referralId), body);
  }

  @Get('followup-outcomes')
  outcomes(@Param('referralId') referralId: string) {
    return this.records.outcomes(checkId('referralId', referralId));
  }

  /** Every timer of the referral, pending, fired or cancelled, for coordinators. */
  @Get('timers')
  timersOf(@Param('referralId') referralId: string) {
    return this.records.timersOf(checkId('referralId', referralId));
  }
}

/**
 * The timers of many referrals at once (a coordinator's inbox), guarded as the per-referral
 * read above: the platform and operators only.
 */
@Roles('platform', 'admin')
@Controller('timers')
export class TimersController {
  constructor(private readonly records: RecordsService) {}

  @Get()
  timersOf(@Query(bodyValidation) query: TimersQuery) {
    return this.records.timersOfMany(query.referral);
  }
}
