import { randomUUID } from 'node:crypto';
import { exportJWK, SignJWT, type JWK } from 'jose';
import {
  InvalidAccessToken,
  MAX_ACCESS_TOKEN_TTL_SECONDS,
  verifyAccessToken,
  VerifiedTokens,
} from '@carerelay/auth';
import type { RequestActor } from './request-actor';
import type { TokenSigningKey } from './signing-key';

// Verification is shared with the service APIs (libs/auth), which check the same tokens.
export { InvalidAccessToken, MAX_ACCESS_TOKEN_TTL_SECONDS };

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
  private readonly verified = new VerifiedTokens();

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
      ...(actor.purposeOfUse ? { purpose_of_use: actor.purposeOfUse } : {}),
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
  verify(token: string): Promise<RequestActor> {
    return verifyAccessToken(token, this.key.publicKey, {
      issuer: this.baseUrl,
      algorithms: [this.key.alg],
      now: this.now,
      cache: this.verified,
    });
  }

  /**
   * The actor of a token this process has verified and that has not expired, without verifying
   * it again (revocation is not checked: the request's own authentication still does).
   */
  verifiedActor(token: string): RequestActor | undefined {
    return this.verified.get(token, this.now())?.actor;
  }

  /** The public key that verifies these tokens, as a JWKS (served at .well-known/jwks.json). */
  async publicJwks(): Promise<{ keys: JWK[] }> {
    const jwk = await exportJWK(this.key.publicKey);
    return { keys: [{ ...jwk, kid: this.key.kid, alg: this.key.alg, use: 'sig' }] };
  }
}
