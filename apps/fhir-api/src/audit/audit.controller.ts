import { Controller, Get, Inject, Param, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { actorOf, type RequestWithActor } from '../request-actor';
import { AuthSettings } from '../auth/token.service';
import { AuditSearch } from './audit-search';
import { sendFhir } from '../http/fhir-response';

function queryOf(req: Request): URLSearchParams {
  const q = req.originalUrl.indexOf('?');
  return new URLSearchParams(q === -1 ? '' : req.originalUrl.slice(q + 1));
}

/**
 * GET /fhir/AuditEvent and /fhir/AuditEvent/:id. Must be registered before the store's generic
 * `/fhir/:type` routes (import AuthModule before the FHIR routes), or the store's controller must
 * delegate AuditEvent to AuditSearch. Errors are FhirErrors for the app's exception filter.
 */
@Controller('fhir/AuditEvent')
export class AuditEventController {
  constructor(
    @Inject(AuditSearch) private readonly audit: AuditSearch,
    @Inject(AuthSettings) private readonly settings: AuthSettings,
  ) {}

  @Get()
  async search(@Req() req: Request & RequestWithActor, @Res() res: Response): Promise<void> {
    const bundle = await this.audit.search(actorOf(req), queryOf(req), this.settings.baseUrl);
    sendFhir(res, 200, bundle);
  }

  @Get(':id')
  async read(
    @Req() req: Request & RequestWithActor,
    @Param('id') id: string,
    @Res() res: Response,
  ): Promise<void> {
    const event = await this.audit.read(actorOf(req), id);
    sendFhir(res, 200, event);
  }
}
