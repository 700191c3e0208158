import { randomUUID } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { isActorRole, type RequestActor } from './request-actor';
import { splitScopes } from './scopes';
import type { TokenSigningKey } from './signing-key';

/** Tokens live at most five minutes (issue 3 item 6). */
export const MAX_ACCESS_TOKEN_TTL_SECONDS = 300;

export class InvalidAccessToken extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidAccessToken';
  }
}

export interface IssuedToken {
  accessToken: string;
  expiresIn: number;
  scope: string;
}

/**
 * Issues and verifies the server's access tokens: JWTs signed with the server key, iss = aud =
 * the FHIR base URL, sub = client_id, with the client's organization, role and granted scopes.
 */
export class AccessTokens {
  readonly ttlSeconds: number;

  constructor(
    private readonly key: TokenSigningKey,
    private readonly base: string | (() => string),
    ttlSeconds = MAX_ACCESS_TOKEN_TTL_SECONDS,
    private readonly now: () => number = Date.now,
  ) {
    if (
      !Number.isInteger(ttlSeconds) ||
      ttlSeconds < 1 ||
      ttlSeconds > MAX_ACCESS_TOKEN_TTL_SECONDS
    ) {
      throw new Error(`access token lifetime must be 1..${MAX_ACCESS_TOKEN_TTL_SECONDS} s`);
    }
    this.ttlSeconds = ttlSeconds;
  }

  /** iss and aud of every token: the FHIR base URL. */
  get baseUrl(): string {
    return typeof this.base === 'function' ? this.base() : this.base;
  }

  async issue(actor: RequestActor): Promise<IssuedToken> {
    const iat = Math.floor(this.now() / 1000);
    const scope = actor.scopes.join(' ');
    const accessToken = await new SignJWT({
      client_id: actor.clientId,
      org: actor.organizationId,
      role: actor.role,
      scope,
    })
      .setProtectedHeader({ alg: this.key.alg, kid: this.key.kid, typ: 'at+jwt' })
      .setIssuer(this.baseUrl)
      .setAudience(this.baseUrl)
      .setSubject(actor.clientId)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(iat + this.ttlSeconds)
      .setJti(randomUUID())
      .sign(this.key.privateKey);
    return { accessToken, expiresIn: this.ttlSeconds, scope };
  }

  /** The actor of a valid token; InvalidAccessToken otherwise (bad signature, expired, ...). */
  async verify(token: string): Promise<RequestActor> {
    if (token.length > 8192) throw new InvalidAccessToken('token too long');
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.key.publicKey, {
        algorithms: [this.key.alg],
        issuer: this.baseUrl,
        audience: this.baseUrl,
        typ: 'at+jwt',
        currentDate: new Date(this.now()),
        clockTolerance: 5,
        requiredClaims: ['exp', 'iat', 'sub'],
      }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw new InvalidAccessToken('token expired');
      throw new InvalidAccessToken('invalid token');
    }
    const { sub, client_id, org, role, scope, exp, iat } = payload;
    if (
      typeof sub !== 'string' ||
      client_id !== sub ||
      typeof org !== 'string' ||
      !isActorRole(role) ||
      typeof scope !== 'string' ||
      typeof exp !== 'number' ||
      typeof iat !== 'number' ||
      exp - iat > MAX_ACCESS_TOKEN_TTL_SECONDS
    ) {
      throw new InvalidAccessToken('invalid token claims');
    }
    return { clientId: sub, organizationId: org, role, scopes: splitScopes(scope) };
  }
}
