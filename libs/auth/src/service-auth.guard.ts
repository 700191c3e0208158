import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import type { JWTVerifyGetKey } from 'jose';
import { InvalidAccessToken, verifyAccessToken } from './access-token';
import { VerifiedTokens } from './verified-tokens';
import { bearerTokenOf, type RequestActor } from './actor';
import type { ClientRevocations } from './client-revocations';
import { IS_PUBLIC } from './public.decorator';
import { admits, ROLES, type Caller } from './roles.decorator';
import { ServiceAuthError } from './service-auth.errors';

/** What the guard verifies tokens with. */
export class ServiceAuthSettings {
  constructor(
    /** iss = aud of the tokens: the FHIR base URL. */
    readonly issuer: string,
    /** The FHIR API's published keys (createRemoteJWKSet), or a test's local set. */
    readonly keys: JWTVerifyGetKey,
    readonly adminOrganizations: readonly string[],
    /** Disabled clients (auth.clients.v1): their earlier tokens are refused before they expire. */
    readonly revocations?: ClientRevocations,
  ) {}
}

export type RequestWithActor = Request & { actor?: RequestActor };

/**
 * Every HTTP route of a service needs an access token of the FHIR API (`Authorization: Bearer`)
 * whose caller its @Roles admits; @Public routes (health, metrics) need none. A route with
 * neither is refused (403), so a route added without a decision stays closed. Kafka handlers
 * (non-HTTP contexts) are not this guard's business.
 */
@Injectable()
export class ServiceAuthGuard implements CanActivate {
  private readonly verified = new VerifiedTokens();

  constructor(
    private readonly reflector: Reflector,
    @Inject(ServiceAuthSettings) private readonly settings: ServiceAuthSettings,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const request = context.switchToHttp().getRequest<RequestWithActor>();

    const token = bearerTokenOf(request.headers.authorization);
    if (token === undefined)
      throw new ServiceAuthError(
        'unauthenticated',
        'An access token is required (Authorization: Bearer)',
      );
    if (token === null)
      throw new ServiceAuthError(
        'unauthenticated',
        'The Authorization header is not a Bearer token',
        'invalid_request',
      );
    let actor: RequestActor;
    try {
      const revocations = this.settings.revocations;
      actor = await verifyAccessToken(token, this.settings.keys, {
        issuer: this.settings.issuer,
        cache: this.verified,
        revoked: revocations ? (client, iat) => revocations.revokes(client, iat) : undefined,
      });
    } catch (error) {
      if (!(error instanceof InvalidAccessToken)) throw error;
      throw new ServiceAuthError(
        'unauthenticated',
        error.message === 'token expired'
          ? 'The access token has expired'
          : error.message === 'client disabled'
            ? 'The access token has been revoked'
            : 'The access token is invalid',
        'invalid_token',
      );
    }
    const callers = this.reflector.getAllAndOverride<Caller[] | undefined>(ROLES, targets);
    if (!callers || !admits(callers, actor, this.settings.adminOrganizations)) {
      throw new ServiceAuthError('forbidden', `A ${actor.role} client may not call this route`);
    }
    request.actor = actor;
    return true;
  }
}
