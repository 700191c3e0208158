import { HttpException } from '@nestjs/common';
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

/**
 * Takes `points` from `key`'s allowance: undefined when granted, else the seconds to wait
 * (for Retry-After). A limiter whose store fails grants: a limit must not take a service down.
 */
export async function retryAfterOf(
  limiter: RateLimiterAbstract,
  key: string,
  points = 1,
): Promise<number | undefined> {
  try {
    await limiter.consume(key, points);
    return undefined;
  } catch (refusal) {
    if (refusal instanceof RateLimiterRes)
      return Math.max(1, Math.ceil(refusal.msBeforeNext / 1000));
    return undefined;
  }
}

/** 429 with Retry-After (ProblemDetailsFilter sets the header from `retryAfter`). */
export class TooManyRequestsException extends HttpException {
  constructor(message: string, retryAfterSeconds: number) {
    super({ statusCode: 429, message, retryAfter: retryAfterSeconds }, 429);
  }
}

/** Refuses with TooManyRequestsException when `key` has used its allowance. */
export async function consumeOrRefuse(
  limiter: RateLimiterAbstract,
  key: string,
  message: string,
  points = 1,
): Promise<void> {
  const retryAfter = await retryAfterOf(limiter, key, points);
  if (retryAfter !== undefined) throw new TooManyRequestsException(message, retryAfter);
}
