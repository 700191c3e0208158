import {
  CallHandler,
  ExecutionContext,
  Inject,
  Injectable,
  NestInterceptor,
  Optional,
} from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import type { Observable } from 'rxjs';
import { from, switchMap } from 'rxjs';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { retryAfterOf } from '@carerelay/http';
import { FhirError, issue } from '@carerelay/fhir';
import type { RequestWithActor } from '../request-actor';

/** A 429 OperationOutcome; FhirExceptionFilter answers its Retry-After. */
export class ThrottledError extends FhirError {
  constructor(
    diagnostics: string,
    readonly retryAfterSeconds: number,
  ) {
    super(429, [issue('error', 'throttled', diagnostics)]);
  }
}

export interface FhirRateLimitSettings {
  /** Requests (a Bundle: one per entry) a client may make per window; 0: no limit. */
  points: number;
  windowSeconds: number;
}

/**
 * The per-client allowance of the FHIR API, in memory. One fhir-api process serves a network
 * (npm start, Docker Compose); with several replicas each enforces its own allowance, and the
 * limiter can be swapped for rate-limiter-flexible's RateLimiterPostgres (same interface).
 */
export class FhirRateLimiter {
  readonly limiter?: RateLimiterMemory;
  constructor(readonly settings: FhirRateLimitSettings) {
    if (settings.points > 0)
      this.limiter = new RateLimiterMemory({
        keyPrefix: 'fhir',
        points: settings.points,
        duration: settings.windowSeconds,
      });
  }
}

/**
 * Takes each request from its client's allowance once the auth guard has identified the client
 * (a batch or transaction takes one point per entry): beyond it a 429 with Retry-After.
 */
@Injectable()
export class FhirRateLimitInterceptor implements NestInterceptor {
  constructor(@Optional() @Inject(FhirRateLimiter) private readonly limits?: FhirRateLimiter) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const limiter = this.limits?.limiter;
    if (!limiter) return next.handle();
    const req = context.switchToHttp().getRequest<RequestWithActor & { body?: unknown }>();
    const key = req.actor?.clientId ?? `address:${req.socket.remoteAddress ?? 'unknown'}`;
    const entries = (req.body as { entry?: unknown } | undefined)?.entry;
    const points = Math.min(
      Math.max(1, Array.isArray(entries) ? entries.length : 1),
      this.limits!.settings.points,
    );
    return from(retryAfterOf(limiter, key, points)).pipe(
      switchMap((retryAfter) => {
        if (retryAfter !== undefined)
          throw new ThrottledError(
            `Too many requests from this client: at most ${this.limits!.settings.points} per ${this.limits!.settings.windowSeconds} s`,
            retryAfter,
          );
        return next.handle();
      }),
    );
  }
}

/**
 * The token endpoint's allowance, per calling address: the endpoint is anonymous until the
 * assertion is verified, and keying on the client id it claims would let anyone use up another
 * client's allowance. Answers RFC 6749's JSON error shape with 429 and Retry-After.
 */
export function tokenRateLimitMiddleware(settings: FhirRateLimitSettings) {
  if (settings.points <= 0) return (_req: Request, _res: Response, next: NextFunction) => next();
  const limiter = new RateLimiterMemory({
    keyPrefix: 'token',
    points: settings.points,
    duration: settings.windowSeconds,
  });
  return (req: Request, res: Response, next: NextFunction): void => {
    if (req.method !== 'POST') {
      next();
      return;
    }
    void retryAfterOf(limiter, req.socket.remoteAddress ?? 'unknown').then((retryAfter) => {
      if (retryAfter === undefined) {
        next();
        return;
      }
      res.status(429);
      res.setHeader('Retry-After', String(retryAfter));
      res.setHeader('Content-Type', 'application/json; charset=utf-8');
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('Connection', 'close');
      res.end(
        JSON.stringify({
          error: 'temporarily_unavailable',
          error_description: `too many token requests; retry after ${retryAfter} s`,
        }),
      );
    });
  };
}
