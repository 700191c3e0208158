import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Put,
  Req,
  Res,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { Public } from '@carerelay/auth';
import { WEB_CONFIG, WebConfig } from '../web.config';
import { WEB_ROLES, type SessionUser } from './account.model';
import { LanguageDto, SignInDto, UserIdParam } from './accounts.dto';
import { AccountsService } from './accounts.service';
import { clearSessionCookie, setSessionCookie } from './session-cookie';
import { CurrentUser, WebRoles } from './web-auth.decorators';

const me = (user: SessionUser) => ({
  user: {
    id: user.id,
    username: user.username,
    displayName: user.displayName,
    organizationId: user.organizationId,
    role: user.role,
    language: user.language,
  },
  csrfToken: user.csrfToken,
});

@Controller('api')
export class AccountsController {
  constructor(
    private readonly accounts: AccountsService,
    @Inject(WEB_CONFIG) private readonly config: WebConfig,
  ) {}

  /** What the sign-in page offers (no session needed, nothing secret). */
  @Public()
  @Get('config')
  signInOptions() {
    return {
      password: this.config.WEB_SIGN_IN !== 'oidc',
      oidc: this.config.WEB_SIGN_IN !== 'password',
    };
  }

  /**
   * Sign-in with username and password. JSON only: a form on another site cannot post JSON
   * without a CORS preflight, which this app never answers (sign-in CSRF).
   */
  @Public()
  @Post('session')
  @HttpCode(200)
  async signIn(
    @Req() request: Request,
    @Body() body: SignInDto,
    @Res({ passthrough: true }) response: Response,
  ) {
    if (!request.is('application/json')) {
      throw new UnsupportedMediaTypeException('Sign-in takes application/json');
    }
    if (this.config.WEB_SIGN_IN === 'oidc') {
      throw new UnsupportedMediaTypeException('Sign-in is through your identity provider');
    }
    const session = await this.accounts.signIn(body.username, body.password);
    setSessionCookie(response, session.sessionId, session.expiresAt, this.config.WEB_COOKIE_SECURE);
    return { user: session.user, csrfToken: session.csrfToken };
  }

  @WebRoles(...WEB_ROLES)
  @Get('session')
  session(@CurrentUser() user: SessionUser) {
    return me(user);
  }

  @WebRoles(...WEB_ROLES)
  @Delete('session')
  @HttpCode(204)
  async signOut(@CurrentUser() user: SessionUser, @Res({ passthrough: true }) response: Response) {
    await this.accounts.signOut(user);
    clearSessionCookie(response, this.config.WEB_COOKIE_SECURE);
  }

  @WebRoles(...WEB_ROLES)
  @Put('session/language')
  @HttpCode(204)
  async language(@CurrentUser() user: SessionUser, @Body() body: LanguageDto) {
    await this.accounts.setLanguage(user, body.language);
  }

  @WebRoles('cbo-admin')
  @Get('users')
  users(@CurrentUser() admin: SessionUser) {
    return this.accounts.usersOf(admin);
  }

  @WebRoles('cbo-admin')
  @Post('users/:id/password-reset')
  @HttpCode(200)
  resetPassword(@CurrentUser() admin: SessionUser, @Param() params: UserIdParam) {
    return this.accounts.resetPassword(admin, params.id);
  }
}
