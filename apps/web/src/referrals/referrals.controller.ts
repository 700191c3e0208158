import { Body, Controller, Get, Param, Post, Query } from '@nestjs/common';
import type { SessionUser } from '../accounts/account.model';
import { CurrentUser, WebRoles } from '../accounts/web-auth.decorators';
import {
  ContactAttemptDto,
  InboxQueryDto,
  NoteDto,
  ReferralActionDto,
  ReferralIdParam,
} from './referrals.dto';
import { ReferralsService } from './referrals.service';
import type { ReferralAction } from './referral-actions';

/** The case manager's inbox: only referrals addressed to the person's own organization. */
@WebRoles('case-manager', 'cbo-admin')
@Controller('api/referrals')
export class ReferralsController {
  constructor(private readonly referrals: ReferralsService) {}

  @Get()
  inbox(@CurrentUser() user: SessionUser, @Query() query: InboxQueryDto) {
    return this.referrals.inbox(user, query.filter ?? 'all', query.q ?? '');
  }

  @Get(':id')
  referral(@CurrentUser() user: SessionUser, @Param() params: ReferralIdParam) {
    return this.referrals.referral(user, params.id);
  }

  @Post(':id/actions')
  act(
    @CurrentUser() user: SessionUser,
    @Param() params: ReferralIdParam,
    @Body() body: ReferralActionDto,
  ) {
    return this.referrals.act(user, params.id, body as unknown as ReferralAction);
  }

  @Post(':id/contact-attempts')
  contactAttempt(
    @CurrentUser() user: SessionUser,
    @Param() params: ReferralIdParam,
    @Body() body: ContactAttemptDto,
  ) {
    return this.referrals.recordContactAttempt(user, params.id, body);
  }

  @Post(':id/notes')
  note(@CurrentUser() user: SessionUser, @Param() params: ReferralIdParam, @Body() body: NoteDto) {
    return this.referrals.addNote(user, params.id, body.text);
  }
}
