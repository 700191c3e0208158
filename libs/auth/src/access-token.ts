import {
  errors as joseErrors,
  jwtVerify,
  type JWTVerifyGetKey,
  type KeyLike,
  type JWTPayload,
} from 'jose';
import { isActorRole, splitScopes, type RequestActor } from './actor';
import type { VerifiedTokens } from './verified-tokens';

/** Access tokens live at most five minutes. */
export const MAX_ACCESS_TOKEN_TTL_SECONDS = 300;

/** The algorithms the FHIR API may sign access tokens with (see its signing-key.ts). */
export const ACCESS_TOKEN_ALGORITHMS = ['ES384', 'ES256', 'RS384', 'RS256', 'PS384', 'EdDSA'];

export class InvalidAccessToken extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidAccessToken';
  }
}

export interface VerifyAccessTokenOptions {
  /** iss and aud of every token: the FHIR base URL. */
  issuer: string;
  algorithms?: string[];
  now?: () => number;
  /** Whether the client's tokens issued at `issuedAt` (epoch s) are revoked (client disabled). */
  revoked?: (clientId: string, issuedAt: number) => boolean;
  /** Tokens verified before by the same verifier (same key and issuer): not verified again. */
  cache?: VerifiedTokens;
}

/**
 * Verifies an access token of the FHIR API (typ at+jwt, iss = aud = the FHIR base URL, sub =
 * client_id, claims org, role, scope, lifetime ≤ 300 s) against a key or a key set, and returns
 * its actor. InvalidAccessToken otherwise; its message never carries token content.
 */
export async function verifyAccessToken(
  token: string,
  key: KeyLike | Uint8Array | JWTVerifyGetKey,
  options: VerifyAccessTokenOptions,
): Promise<RequestActor> {
  if (token.length > 8192) throw new InvalidAccessToken('token too long');
  const cached = options.cache?.get(token, (options.now ?? Date.now)());
  if (cached) {
    if (options.revoked?.(cached.actor.clientId, cached.iat))
      throw new InvalidAccessToken('client disabled');
    return { ...cached.actor, scopes: [...cached.actor.scopes] };
  }
  let payload: JWTPayload;
  const verifyOptions = {
    algorithms: options.algorithms ?? ACCESS_TOKEN_ALGORITHMS,
    issuer: options.issuer,
    audience: options.issuer,
    typ: 'at+jwt',
    currentDate: new Date((options.now ?? Date.now)()),
    clockTolerance: 5,
    requiredClaims: ['exp', 'iat', 'sub'],
  };
  try {
    ({ payload } =
      typeof key === 'function'
        ? await jwtVerify(token, key, verifyOptions)
        : await jwtVerify(token, key, verifyOptions));
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) throw new InvalidAccessToken('token expired');
    throw new InvalidAccessToken('invalid token');
  }
  const { sub, client_id, org, role, scope, exp, iat, purpose_of_use } = payload as Record<
    string,
    unknown
  >;
  if (
    typeof sub !== 'string' ||
    client_id !== sub ||
    typeof org !== 'string' ||
    !isActorRole(role) ||
    typeof scope !== 'string' ||
    typeof exp !== 'number' ||
    typeof iat !== 'number' ||
    exp - iat > MAX_ACCESS_TOKEN_TTL_SECONDS ||
    (purpose_of_use !== undefined && typeof purpose_of_use !== 'string')
  ) {
    throw new InvalidAccessToken('invalid token claims');
  }
  if (options.revoked?.(sub, iat)) throw new InvalidAccessToken('client disabled');
  const actor: RequestActor = {
    clientId: sub,
    organizationId: org,
    role,
    scopes: splitScopes(scope),
  };
  if (typeof purpose_of_use === 'string') actor.purposeOfUse = purpose_of_use;
  options.cache?.set(token, { actor: { ...actor, scopes: [...actor.scopes] }, exp, iat });
  return actor;
}
