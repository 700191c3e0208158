import {
  BadRequestException,
  Controller,
  Get,
  HttpException,
  Inject,
  Param,
  Query,
  Res,
} from '@nestjs/common';
import type { Response } from 'express';
import type { SessionUser } from '../accounts/account.model';
import { CurrentUser, WebRoles } from '../accounts/web-auth.decorators';
import { FhirGateway } from '../referrals/fhir.gateway';
import { WEB_CONFIG, WebConfig } from '../web.config';

const ENDPOINTS = new Set(['summary', 'breakdown', 'equity', 'timeseries', 'unmet-need']);
const PARAMS = new Set([
  'from',
  'to',
  'cbo',
  'category',
  'requester',
  'race',
  'ethnicity',
  'language',
  'zip',
  'payer',
  'ageBand',
  'sex',
  'by',
  'dimension',
  'reference',
  'format',
  'period',
]);

/**
 * The coordinator's dashboard reads the analytics-service's API (aggregates only, small groups
 * suppressed there) with the coordinator organization's token; CSV passes through as a download.
 */
@WebRoles('coordinator')
@Controller('api/analytics')
export class DashboardController {
  private readonly base: string;

  constructor(
    private readonly fhir: FhirGateway,
    @Inject(WEB_CONFIG) config: WebConfig,
  ) {
    this.base = config.ANALYTICS_SERVICE_URL.replace(/\/+$/, '');
  }

  @Get(':endpoint')
  async proxy(
    @CurrentUser() user: SessionUser,
    @Param('endpoint') endpoint: string,
    @Query() query: Record<string, unknown>,
    @Res() response: Response,
  ) {
    if (!ENDPOINTS.has(endpoint)) throw new BadRequestException('Unknown analytics view');
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (
        !PARAMS.has(key) ||
        typeof value !== 'string' ||
        !/^[A-Za-z0-9 ._:+-]{0,100}$/.test(value)
      )
        throw new BadRequestException(`Bad parameter ${key.slice(0, 40)}`);
      params.set(key, value);
    }
    const answer = await fetch(`${this.base}/analytics/${endpoint}?${params}`, {
      headers: { authorization: `Bearer ${await this.fhir.tokenFor(user)}` },
      redirect: 'error',
      signal: AbortSignal.timeout(15_000),
    }).catch(() => undefined);
    if (!answer) throw new HttpException('The analytics service is not answering', 502);
    const type = answer.headers.get('content-type') ?? 'application/json';
    const disposition = answer.headers.get('content-disposition');
    response.status(answer.status >= 500 ? 502 : answer.status).type(type);
    if (disposition) response.setHeader('content-disposition', disposition);
    response.send(Buffer.from(await answer.arrayBuffer()));
  }
}
