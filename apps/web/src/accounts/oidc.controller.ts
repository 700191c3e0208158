import { randomBytes } from 'node:crypto';
import {
  Controller,
  ForbiddenException,
  Get,
  Inject,
  NotFoundException,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { Public } from '@carerelay/auth';
import { WEB_CONFIG, WebConfig } from '../web.config';
import { WEB_ROLES, type WebRole } from './account.model';
import { AccountsService } from './accounts.service';
import { setSessionCookie } from './session-cookie';
import { UsersRepository } from './users.repository';

type OpenIdClient = typeof import('openid-client');
const OIDC_COOKIE = 'carerelay_oidc';

/**
 * OpenID Connect sign-in (authorization code + PKCE) with a health system's own identity
 * provider, switched on by WEB_SIGN_IN=oidc|both. The ID token names the person's organization
 * and role (WEB_OIDC_ORG_CLAIM, WEB_OIDC_ROLE_CLAIM); the person is created on first sign-in.
 */
@Controller('api/oidc')
export class OidcController {
  private configuration?: Promise<import('openid-client').Configuration>;

  constructor(
    @Inject(WEB_CONFIG) private readonly config: WebConfig,
    private readonly accounts: AccountsService,
    private readonly users: UsersRepository,
  ) {}

  private enabled(): void {
    if (this.config.WEB_SIGN_IN === 'password') throw new NotFoundException();
  }

  private client(): OpenIdClient {
    // Loaded only when OIDC is on: an ES module, required by path (Node >= 20.19).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('openid-client') as OpenIdClient;
  }

  private discovered() {
    this.configuration ??= this.client().discovery(
      new URL(this.config.WEB_OIDC_ISSUER),
      this.config.WEB_OIDC_CLIENT_ID,
      this.config.WEB_OIDC_CLIENT_SECRET,
    );
    return this.configuration;
  }

  @Public()
  @Get('login')
  async login(@Res() response: Response) {
    this.enabled();
    const oidc = this.client();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = randomBytes(16).toString('base64url');
    const url = oidc.buildAuthorizationUrl(await this.discovered(), {
      redirect_uri: this.config.WEB_OIDC_REDIRECT_URL,
      scope: 'openid profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    // Lax: the identity provider's redirect back is a top-level cross-site navigation.
    response.cookie(OIDC_COOKIE, JSON.stringify({ verifier, state }), {
      httpOnly: true,
      sameSite: 'lax',
      secure: this.config.WEB_COOKIE_SECURE,
      path: '/api/oidc',
      maxAge: 10 * 60_000,
    });
    response.redirect(url.href);
  }

  @Public()
  @Get('callback')
  async callback(
    @Req() request: Request,
    @Res() response: Response,
    @Query() _query: Record<string, string>,
  ) {
    this.enabled();
    const saved = JSON.parse((request.cookies as Record<string, string>)[OIDC_COOKIE] ?? '{}') as {
      verifier?: string;
      state?: string;
    };
    if (!saved.verifier || !saved.state) throw new ForbiddenException('Sign-in expired: try again');
    const current = new URL(request.originalUrl, this.config.WEB_OIDC_REDIRECT_URL);
    const tokens = await this.client().authorizationCodeGrant(await this.discovered(), current, {
      pkceCodeVerifier: saved.verifier,
      expectedState: saved.state,
    });
    const claims = tokens.claims();
    if (!claims) throw new ForbiddenException('The identity provider sent no ID token');
    const organizationId = String(claims[this.config.WEB_OIDC_ORG_CLAIM] ?? '');
    const role = String(claims[this.config.WEB_OIDC_ROLE_CLAIM] ?? '') as WebRole;
    if (!/^[A-Za-z0-9\-.]{1,64}$/.test(organizationId) || !WEB_ROLES.includes(role)) {
      throw new ForbiddenException('Your identity provider did not name an organization and role');
    }
    let user = await this.users.byOidcSubject(claims.sub);
    if (!user) {
      const username = `oidc-${claims.sub}`
        .toLowerCase()
        .replace(/[^a-z0-9._@-]/g, '-')
        .slice(0, 100);
      await this.users.insertOidcUser({
        username,
        displayName: String(claims.name ?? username).slice(0, 200),
        organizationId,
        role,
        subject: claims.sub,
      });
      user = await this.users.byOidcSubject(claims.sub);
    }
    if (!user) throw new ForbiddenException('Could not create your account');
    const session = await this.accounts.startSession(user);
    response.clearCookie(OIDC_COOKIE, { path: '/api/oidc' });
    setSessionCookie(response, session.sessionId, session.expiresAt, this.config.WEB_COOKIE_SECURE);
    response.redirect('/');
  }
}
