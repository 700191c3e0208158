import type { Response } from 'express';
import { SESSION_COOKIE } from './web-auth.decorators';

/** httpOnly (no script reads it), SameSite=Strict (no other site sends it), Secure behind HTTPS. */
export function setSessionCookie(
  response: Response,
  sessionId: string,
  expiresAt: Date,
  secure: boolean,
): void {
  response.cookie(SESSION_COOKIE, sessionId, {
    httpOnly: true,
    sameSite: 'strict',
    secure,
    path: '/',
    expires: expiresAt,
  });
}

export function clearSessionCookie(response: Response, secure: boolean): void {
  response.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'strict', secure, path: '/' });
}
