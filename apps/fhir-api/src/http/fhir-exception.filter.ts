import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Response } from 'express';
import type { IssueCode } from '../fhir-lib';
import { FhirError, internalError } from '../fhir-lib';
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
  return internalError();
}

@Catch()
export class FhirExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('FhirApi');

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const error = toFhirHttpError(exception);
    if (error.status >= 500)
      this.logger.error(exception instanceof Error ? exception.stack : String(exception));
    sendFhirError(res, error);
  }
}
