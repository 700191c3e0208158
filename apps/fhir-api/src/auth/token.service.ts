import { DEFAULT_PURPOSE_OF_USE } from '@carerelay/consent';
import type { ActorRole } from './request-actor';
import { AccessTokens, type IssuedToken } from './access-token';
import { tokenUrlOf } from './auth.config';
import { ClientRegistry } from './client.registry';
import { JtiStore } from './jti.store';
import { authenticateTokenRequest } from './token-request';

/** The FHIR base URL as clients see it; a function because it may be known only after listen. */
export class AuthSettings {
  constructor(
    private readonly base: string | (() => string),
    private readonly aliases: string[] = [],
  ) {}

  /** The token URLs of the base's configured aliases: also accepted as an assertion's aud. */
  get tokenUrlAliases(): string[] {
    return this.aliases.map(tokenUrlOf).filter((url) => url !== this.tokenUrl);
  }

  get baseUrl(): string {
    return (typeof this.base === 'function' ? this.base() : this.base).replace(/\/+$/, '');
  }

  get tokenUrl(): string {
    return tokenUrlOf(this.baseUrl);
  }
}

export interface TokenResponse {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  scope: string;
}

/**
 * The purpose of use of a token whose client stated none: a CBO reads for care coordination
 * (TREAT); the other roles' reads are not decided by purpose, so their tokens carry none.
 */
export const defaultPurposeOfUse = (role: ActorRole): string | undefined =>
  role === 'cbo' ? DEFAULT_PURPOSE_OF_USE : undefined;

/** The token endpoint's work: authenticate the client (token-request.ts), then issue a token. */
export class TokenService {
  constructor(
    private readonly settings: AuthSettings,
    private readonly registry: ClientRegistry,
    private readonly jtis: JtiStore,
    private readonly tokens: AccessTokens,
  ) {}

  async token(form: Record<string, unknown>): Promise<TokenResponse> {
    const { client, grantedScopes, purposeOfUse } = await authenticateTokenRequest(form, {
      tokenUrl: this.settings.tokenUrl,
      tokenUrlAliases: this.settings.tokenUrlAliases,
      findClient: (id) => this.registry.find(id),
      rememberJti: (id, jti, expiresAt) => this.jtis.remember(id, jti, expiresAt),
    });
    const issued: IssuedToken = await this.tokens.issue({
      clientId: client.clientId,
      organizationId: client.organizationId,
      role: client.role,
      scopes: grantedScopes,
      purposeOfUse: purposeOfUse ?? defaultPurposeOfUse(client.role),
    });
    return {
      access_token: issued.accessToken,
      token_type: 'bearer',
      expires_in: issued.expiresIn,
      scope: issued.scope,
    };
  }
}
