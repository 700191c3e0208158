import { randomUUID } from 'node:crypto';
import { importJWK, JWK, SignJWT } from 'jose';

export interface SmartBackendCredentials {
  tokenUrl: string;
  clientId: string;
  /** The client's private key as a JWK (with `kid` matching its registered JWKS). */
  privateJwk: JWK;
  alg: 'RS384' | 'ES384';
  scope: string;
  /**
   * The v3 PurposeOfUse code to state (e.g. `HRESCH`), sent in the assertion as the HL7 UDAP B2B
   * extension (`extensions.hl7-b2b.purpose_of_use`); absent: the client registration's default.
   */
  purposeOfUse?: string;
}

/** A token request refused or failed; `status` 0 when the server did not answer. */
export class TokenRequestError extends Error {
  override name = 'TokenRequestError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * SMART Backend Services (client_credentials with a private_key_jwt assertion). Tokens are cached
 * until shortly before they expire; each assertion has a fresh `jti`.
 */
export class SmartBackendTokenSource {
  private cached?: { token: string; expiresAt: number };
  private pending?: Promise<string>;

  constructor(private readonly credentials: SmartBackendCredentials) {}

  async token(): Promise<string> {
    if (this.cached && this.cached.expiresAt - 30_000 > Date.now()) return this.cached.token;
    this.pending ??= this.fetchToken().finally(() => (this.pending = undefined));
    return this.pending;
  }

  invalidate(): void {
    this.cached = undefined;
  }

  private async fetchToken(): Promise<string> {
    const { tokenUrl, clientId, privateJwk, alg, scope, purposeOfUse } = this.credentials;
    const key = await importJWK(privateJwk, alg);
    const claims = purposeOfUse
      ? {
          extensions: {
            'hl7-b2b': {
              version: '1',
              purpose_of_use: [`urn:oid:2.16.840.1.113883.5.8#${purposeOfUse}`],
            },
          },
        }
      : {};
    const assertion = await new SignJWT(claims)
      .setProtectedHeader({ alg, kid: privateJwk.kid, typ: 'JWT' })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(tokenUrl)
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime('4m')
      .sign(key);
    const response = await fetch(tokenUrl, {
      method: 'POST',
      // The assertion goes to the token URL itself, never where a redirect points.
      redirect: 'error',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        scope,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
      }),
    });
    const body = (await response.json().catch(() => ({}))) as {
      access_token?: string;
      expires_in?: number;
      error?: string;
      error_description?: string;
    };
    if (!response.ok || !body.access_token) {
      throw new TokenRequestError(
        response.status,
        `token request for ${clientId} failed: ${response.status} ${body.error ?? ''} ${body.error_description ?? ''}`.trim(),
      );
    }
    this.cached = {
      token: body.access_token,
      expiresAt: Date.now() + (body.expires_in ?? 300) * 1000,
    };
    return body.access_token;
  }
}
