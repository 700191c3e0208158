import { timingSafeEqual } from 'node:crypto';
import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { IS_PUBLIC } from '@carerelay/auth';
import type { WebRole } from './account.model';
import { SessionsRepository } from './sessions.repository';
import { CSRF_HEADER, RequestWithUser, SESSION_COOKIE, WEB_ROLES_KEY } from './web-auth.decorators';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const sameToken = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/**
 * Every route of the web app's API: a session cookie of an unexpired session, the route's role,
 * and on every state change the session's CSRF token in the X-CSRF-Token header (synchronizer
 * token: the SPA reads it from GET /api/session; another site can neither read nor guess it).
 */
@Injectable()
export class SessionGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly sessions: SessionsRepository,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const roles = this.reflector.getAllAndOverride<WebRole[] | undefined>(WEB_ROLES_KEY, targets);
    if (!roles) throw new ForbiddenException('This route is not open to anyone');
    const request = context.switchToHttp().getRequest<RequestWithUser>();
    const sessionId = (request.cookies as Record<string, string> | undefined)?.[SESSION_COOKIE];
    const user =
      typeof sessionId === 'string' && sessionId.length > 0 && sessionId.length < 200
        ? await this.sessions.find(sessionId)
        : null;
    if (!user) throw new UnauthorizedException('Please sign in');
    if (!SAFE_METHODS.has(request.method)) {
      const sent = request.headers[CSRF_HEADER];
      if (typeof sent !== 'string' || !sameToken(sent, user.csrfToken)) {
        throw new ForbiddenException('Missing or wrong CSRF token');
      }
    }
    if (!roles.includes(user.role)) throw new ForbiddenException('Not allowed for your role');
    request.webUser = user;
    return true;
  }
}
