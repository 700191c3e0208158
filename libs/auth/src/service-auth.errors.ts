import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';

export type ServiceAuthFailure = 'unauthenticated' | 'forbidden';

/** A refused call: 401 (no or bad token) or 403 (the caller's role may not call the route). */
export class ServiceAuthError extends Error {
  override name = 'ServiceAuthError';
  constructor(
    readonly failure: ServiceAuthFailure,
    readonly detail: string,
    /** RFC 6750 error code for WWW-Authenticate (401 only). */
    readonly bearerError?: 'invalid_request' | 'invalid_token',
  ) {
    super(detail);
  }

  get status(): 401 | 403 {
    return this.failure === 'unauthenticated' ? 401 : 403;
  }

  /**
   * Writes the refusal itself: problem+json with its Bearer challenge. Any catch-all error filter
   * of a service can hand it over (answerHttp), so the challenge is never lost to a generic 500.
   */
  answerHttp(response: Response): void {
    if (this.status === 401) {
      const parts = [`realm="${AUTH_REALM}"`];
      if (this.bearerError) parts.push(`error="${this.bearerError}"`);
      if (this.bearerError) parts.push(`error_description="${this.detail}"`);
      response.setHeader('WWW-Authenticate', `Bearer ${parts.join(', ')}`);
    } else {
      response.setHeader(
        'WWW-Authenticate',
        `Bearer realm="${AUTH_REALM}", error="insufficient_scope"`,
      );
    }
    // A body still arriving is not read: the connection closes after the refusal instead of
    // draining what an unauthenticated caller sends.
    if (response.req && !response.req.complete) response.setHeader('Connection', 'close');
    response.setHeader('Content-Type', 'application/problem+json');
    response.status(this.status).end(
      JSON.stringify({
        type: 'about:blank',
        title: this.status === 401 ? 'Unauthorized' : 'Forbidden',
        status: this.status,
        detail: this.detail,
      }),
    );
  }
}

export const AUTH_REALM = 'CareRelay';

/** ServiceAuthError → application/problem+json (RFC 9457) with WWW-Authenticate on 401. */
@Catch(ServiceAuthError)
export class ServiceAuthErrorFilter implements ExceptionFilter<ServiceAuthError> {
  catch(error: ServiceAuthError, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw error;
    error.answerHttp(host.switchToHttp().getResponse<Response>());
  }
}
