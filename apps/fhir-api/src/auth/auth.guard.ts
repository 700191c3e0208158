import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { bearerTokenOf } from '@carerelay/auth';
import { badRequest, forbidden, unauthorized } from '@carerelay/fhir';
import { AccessTokens, InvalidAccessToken } from './access-token';
import {
  FHIR_ROUTE_PREFIX,
  JWKS_PATH,
  ON_BEHALF_OF_HEADER,
  ON_BEHALF_OF_PATTERN,
  SMART_CONFIGURATION_PATH,
  TOKEN_PATH,
} from './auth.config';
import { ClientRegistry } from './client.registry';
import { IS_PUBLIC } from './public.decorator';
import type { RequestWithActor } from './request-actor';

/** Paths under /fhir that need no token (compared case-insensitively, trailing slash ignored). */
export const PUBLIC_FHIR_PATHS: readonly string[] = [
  `${FHIR_ROUTE_PREFIX}/metadata`,
  `${FHIR_ROUTE_PREFIX}/${SMART_CONFIGURATION_PATH}`,
  `${FHIR_ROUTE_PREFIX}/${TOKEN_PATH}`,
  `${FHIR_ROUTE_PREFIX}/${JWKS_PATH}`,
].map((p) => p.toLowerCase());

const normalizePath = (path: string): string => path.replace(/\/+$/, '').toLowerCase() || '/';

/** True when `path` is a FHIR route (under /fhir) that needs an access token. */
export function requiresToken(path: string): boolean {
  const normalized = normalizePath(path);
  const prefix = FHIR_ROUTE_PREFIX.toLowerCase();
  if (normalized !== prefix && !normalized.startsWith(`${prefix}/`)) return false;
  return !PUBLIC_FHIR_PATHS.includes(normalized);
}

export { bearerTokenOf };

const REALM = 'CareRelay FHIR';

/** Remembers for a few seconds whether a client is active, so disabling takes effect fast. */
export class ClientStatusCache {
  private readonly entries = new Map<string, { active: boolean; until: number }>();

  constructor(
    private readonly registry: ClientRegistry,
    private readonly ttlMs = 5_000,
    private readonly now: () => number = Date.now,
  ) {}

  async isActive(clientId: string): Promise<boolean> {
    const cached = this.entries.get(clientId);
    if (cached && cached.until > this.now()) return cached.active;
    const client = await this.registry.find(clientId);
    const active = client?.active === true;
    if (this.entries.size > 10_000) this.entries.clear();
    this.entries.set(clientId, { active, until: this.now() + this.ttlMs });
    return active;
  }
}

/** Client ids of the trusted web apps that may name the person they act for. */
export class OnBehalfOfClients {
  constructor(readonly clientIds: ReadonlySet<string>) {}
}

/**
 * The person a request names (X-On-Behalf-Of), accepted only from a trusted web app's client:
 * any other client naming a person is refused (403), a malformed name too (400).
 */
export function onBehalfOfFor(
  header: string | string[] | undefined,
  clientId: string,
  trusted: OnBehalfOfClients,
): string | undefined {
  if (header === undefined) return undefined;
  if (!trusted.clientIds.has(clientId)) {
    throw forbidden('This client may not act on behalf of a person');
  }
  if (typeof header !== 'string' || !ON_BEHALF_OF_PATTERN.test(header)) {
    throw badRequest('X-On-Behalf-Of must be a username');
  }
  return header;
}

/**
 * Every /fhir route but metadata, the SMART configuration and the token endpoint needs a valid
 * access token (`Authorization: Bearer <token>`). The guard sets `request.actor`; a missing,
 * invalid or expired token (or a disabled client) answers 401 with an OperationOutcome and
 * `WWW-Authenticate: Bearer` (RFC 6750). Routes outside /fhir are left alone; routes marked
 * @Public() need no token.
 */
@Injectable()
export class FhirAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: AccessTokens,
    @Inject(ClientStatusCache) private readonly clients: ClientStatusCache,
    @Inject(OnBehalfOfClients) private readonly onBehalfOf: OnBehalfOfClients,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const request = context.switchToHttp().getRequest<Request & RequestWithActor>();
    const response = context.switchToHttp().getResponse<Response>();
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic || !requiresToken(request.path)) return true;

    const challenge = (error?: string, description?: string): never => {
      const parts = [`realm="${REALM}"`];
      if (error) parts.push(`error="${error}"`);
      if (description) parts.push(`error_description="${description}"`);
      response.setHeader('WWW-Authenticate', `Bearer ${parts.join(', ')}`);
      throw unauthorized(description ?? 'An access token is required (Authorization: Bearer)');
    };

    const token = bearerTokenOf(request.headers.authorization);
    if (token === undefined) return challenge();
    if (token === null)
      return challenge('invalid_request', 'The Authorization header is not a Bearer token');
    try {
      const actor = await this.tokens.verify(token);
      if (!(await this.clients.isActive(actor.clientId))) {
        return challenge('invalid_token', 'The client is disabled');
      }
      const person = onBehalfOfFor(
        request.headers[ON_BEHALF_OF_HEADER],
        actor.clientId,
        this.onBehalfOf,
      );
      request.actor = person ? { ...actor, onBehalfOf: person } : actor;
      return true;
    } catch (error) {
      if (error instanceof InvalidAccessToken) {
        return challenge(
          'invalid_token',
          error.message === 'token expired'
            ? 'The access token has expired'
            : 'The access token is invalid',
        );
      }
      throw error;
    }
  }
}
