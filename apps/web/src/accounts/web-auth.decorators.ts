import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { Request } from 'express';
import type { SessionUser, WebRole } from './account.model';

export const WEB_ROLES_KEY = 'carerelay:web:roles';

/** The web roles a route is for; a route without it (and not @Public) stops the app at start. */
export const WebRoles = (...roles: WebRole[]): MethodDecorator & ClassDecorator =>
  SetMetadata(WEB_ROLES_KEY, roles);

export type RequestWithUser = Request & { webUser?: SessionUser };

/** The signed-in person (set by the session guard). */
export const CurrentUser = createParamDecorator(
  (_data: unknown, context: ExecutionContext): SessionUser => {
    const user = context.switchToHttp().getRequest<RequestWithUser>().webUser;
    if (!user) throw new Error('no session user on a guarded route');
    return user;
  },
);

export const SESSION_COOKIE = 'carerelay_session';
export const CSRF_HEADER = 'x-csrf-token';
