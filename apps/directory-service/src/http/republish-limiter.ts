import { RateLimiterMemory } from 'rate-limiter-flexible';

export const REPUBLISH_LIMITER = Symbol('REPUBLISH_LIMITER');

/**
 * One republish per interval: each re-announces every entry (hundreds of events, and as many
 * FHIR writes downstream), so repeating it would only pile up work; 0 turns the limit off.
 */
export const republishLimiter = (intervalSeconds: number): RateLimiterMemory | undefined =>
  intervalSeconds > 0 ? new RateLimiterMemory({ points: 1, duration: intervalSeconds }) : undefined;
