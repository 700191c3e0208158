import { isDatabaseUnavailable, safeErrorStack, safeErrorText } from '@carerelay/persistence';
import { UNAVAILABLE_RETRY_AFTER_SECONDS } from '@carerelay/http';
import {
  ArgumentsHost,
  Catch,
  ExceptionFilter,
  HttpException,
  Inject,
  Logger,
  Optional,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import type { AuditSubtype } from '../audit/audit-event.builder';
import { outcomeOfStatus } from '../audit/audit-event.builder';
import { AuditService, markAudited, wasAudited } from '../audit/audit.service';
import type { RequestWithActor } from '../request-actor';
import type { IssueCode } from '@carerelay/fhir';
import { FhirError, internalError, serviceUnavailable } from '@carerelay/fhir';
import { ThrottledError } from './fhir-rate-limit';
import { sendFhirError } from './fhir-response';

const CODE_BY_STATUS: Record<number, IssueCode> = {
  400: 'invalid',
  401: 'login',
  403: 'forbidden',
  404: 'not-found',
  405: 'not-supported',
  406: 'not-supported',
  409: 'conflict',
  412: 'conflict',
  413: 'too-long',
  415: 'not-supported',
  422: 'business-rule',
  429: 'throttled',
};

/** Maps whatever a handler throws to an OperationOutcome: FhirError as is, HttpException by status, anything else a 500 that says nothing. */
export function toFhirHttpError(error: unknown): FhirError {
  if (error instanceof FhirError) return error;
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const response = error.getResponse();
    const message =
      typeof response === 'object' && response !== null && 'message' in response
        ? String((response as { message: unknown }).message)
        : error.message;
    return new FhirError(status, [
      {
        severity: 'error',
        code: CODE_BY_STATUS[status] ?? (status >= 500 ? 'exception' : 'invalid'),
        diagnostics: message,
      },
    ]);
  }
  if (isDatabaseUnavailable(error)) return serviceUnavailable();
  return internalError();
}

const RESOURCE_TYPE = /^[A-Z][A-Za-z]{1,63}$/;

/** The interaction a request asked for, as AuditEvent.subtype, from its method and path. */
export function auditSubtypeOf(method: string, path: string): AuditSubtype {
  const parts = path
    .replace(/^\/fhir\/?/, '')
    .split('/')
    .filter(Boolean);
  const [, id, history, version] = parts;
  switch (method) {
    case 'POST':
      if (parts.length === 0) return 'batch';
      return parts[1] === '_search' ? 'search-type' : 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return 'delete';
    default:
      if (parts.length === 0) return 'search-system';
      if (id === undefined) return 'search-type';
      if (id === '_history') return 'history-type';
      if (history === undefined) return 'read';
      return version === undefined ? 'history-instance' : 'vread';
  }
}

/**
 * Every error leaves as an OperationOutcome. A refusal that no interaction audited (bad input
 * refused before the store, a Bundle over its cost limit, a rate limit) is audited here, for a
 * caller the auth guard identified: refused requests leave a trace too.
 */
@Catch()
export class FhirExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('FhirApi');

  constructor(@Optional() @Inject(AuditService) private readonly audit?: AuditService) {}

  async catch(exception: unknown, host: ArgumentsHost): Promise<void> {
    const req = host.switchToHttp().getRequest<Request & RequestWithActor>();
    const res = host.switchToHttp().getResponse<Response>();
    const error = toFhirHttpError(exception);
    if (error.status >= 500) this.logger.error(safeErrorStack(exception));
    // A throttled request is not audited: under a flood that would be one write per refusal.
    if (!(exception instanceof ThrottledError)) await this.auditRefusal(req, exception, error);
    const headers: Record<string, string> = {};
    // An oversized or unreadable body is left unread: close the connection after answering.
    if (error.status === 413 || error.status === 415) headers.Connection = 'close';
    if (exception instanceof ThrottledError)
      headers['Retry-After'] = String(exception.retryAfterSeconds);
    if (error.status === 503) headers['Retry-After'] = String(UNAVAILABLE_RETRY_AFTER_SECONDS);
    sendFhirError(res, error, headers);
  }

  private async auditRefusal(
    req: Request & RequestWithActor,
    exception: unknown,
    error: FhirError,
  ): Promise<void> {
    if (
      !this.audit ||
      !req.actor ||
      wasAudited(exception) ||
      error.status === 401 ||
      error.status === 503
    )
      return;
    const path = (req.originalUrl ?? req.url).split('?')[0];
    const type = path.replace(/^\/fhir\/?/, '').split('/')[0];
    try {
      await this.audit.record(undefined, {
        actor: req.actor,
        subtype: auditSubtypeOf(req.method, path),
        resourceType: RESOURCE_TYPE.test(type) ? type : undefined,
        outcome: outcomeOfStatus(error.status),
        outcomeDesc: error.issues.map((i) => i.diagnostics ?? i.code).join('; '),
      });
      markAudited(exception);
    } catch (auditError) {
      this.logger.error(`could not audit a refused request: ${safeErrorText(auditError)}`);
    }
  }
}
