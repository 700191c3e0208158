import type { LoggerService } from '@nestjs/common';
import pino, { Logger } from 'pino';

/**
 * Structured JSON logs, one line each, with the service's name. Event handling lines carry the
 * CloudEvents subject (the referral id) and traceparent, so one referral can be followed
 * through every service it touched.
 */
export function createServiceLogger(
  service: string,
  level = process.env.LOG_LEVEL ?? 'info',
): Logger {
  return pino({
    base: { service, pid: process.pid },
    level,
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

/** Nest's own log lines (start-up, errors) through the same pino logger. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, context?: string): void {
    this.logger.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string): void {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string): void {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string): void {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string): void {
    this.logger.trace({ context }, String(message));
  }
}

/** The messaging libs' logger interface, on pino. */
export function consumerLogger(logger: Logger) {
  return {
    info: (entry: Record<string, unknown>) => logger.info(entry),
    warn: (message: string) => logger.warn(message),
    error: (message: string) => logger.error(message),
  };
}
