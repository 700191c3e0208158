import { BadRequestException, Controller, Get, Query } from '@nestjs/common';
import { Roles } from '@carerelay/auth';
import { PullPoller, type PullRefusal } from './pull.poller';

/**
 * EHR Tasks a pull could not bring into CareRelay as they are (a 4xx from CareRelay or from the
 * EHR while gathering what the Task names): skipped so that later referrals still come in, kept
 * here for operators until the EHR changes the Task and it is pulled. The platform and operators
 * only, as the rest of the connector's HTTP.
 */
@Roles('platform', 'admin')
@Controller('pull')
export class PullRefusalsController {
  constructor(private readonly poller: PullPoller) {}

  @Get('refusals')
  list(@Query('endpoint') endpoint?: string): Promise<PullRefusal[]> {
    if (endpoint !== undefined && !/^[a-z0-9][a-z0-9-]{0,62}$/.test(endpoint))
      throw new BadRequestException('endpoint must be an endpoint id');
    return this.poller.refusals(endpoint);
  }
}
