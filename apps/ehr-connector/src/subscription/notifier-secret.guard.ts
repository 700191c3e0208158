import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { bearerTokenOf, ServiceAuthError } from '@carerelay/auth';
import { EhrSubscriptionRepository } from './ehr-subscription.repository';

const ENDPOINT_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * An EHR's notification is let in only with the secret CareRelay gave that endpoint's
 * Subscription (`channel.header`: `Authorization: Bearer <secret>`): not an access token of the
 * FHIR API, which an EHR's Subscription cannot renew. Unknown endpoint, no or wrong secret: the
 * same 401 problem+json, before the body is read.
 */
@Injectable()
export class NotifierSecretGuard implements CanActivate {
  constructor(private readonly subscriptions: EhrSubscriptionRepository) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<Request>();
    const endpointId = String(request.params.endpointId ?? '');
    const secret = bearerTokenOf(request.headers.authorization);
    if (
      typeof secret !== 'string' ||
      !ENDPOINT_ID.test(endpointId) ||
      !(await this.subscriptions.verifySecret(endpointId, secret))
    )
      throw new ServiceAuthError(
        'unauthenticated',
        "The notification must carry the endpoint's subscription secret (Authorization: Bearer)",
        secret === undefined ? undefined : 'invalid_token',
      );
    return true;
  }
}
