import { BadRequestException, Controller, Get, Query } from '@nestjs/common';
import { Roles } from '@carerelay/auth';
import { RemoteReferralStore, type RemoteReferralRow } from './remote-referral.store';

/**
 * Referral Tasks posted with their ServiceRequest (or Patient) on the EHR: queued, fetched
 * (`done`) or given up (the Task rejected), with the attempts and the last failure (a fixed
 * message, never the EHR's text). The platform and operators only.
 */
@Roles('platform', 'admin')
@Controller('remote-referrals')
export class RemoteReferralsController {
  constructor(private readonly store: RemoteReferralStore) {}

  @Get()
  list(@Query('state') state?: string): Promise<RemoteReferralRow[]> {
    if (state !== undefined && !['pending', 'done', 'given-up'].includes(state))
      throw new BadRequestException('state must be pending, done or given-up');
    return this.store.list(state);
  }
}
