import { IsInt, Max, Min } from 'class-validator';
import { ServiceConfig } from '@carerelay/config';

export class ConsentServiceConfig extends ServiceConfig {
  @IsInt()
  @Min(0)
  @Max(65535)
  CONSENT_SERVICE_PORT = 8083;

  /** How often the durable timer table is polled for consents starting or ending. */
  @IsInt()
  @Min(50)
  @Max(60_000)
  CONSENT_TIMER_POLL_MS = 1000;
}

export const CONSENT_SCHEMA = 'consent';
export const CONSENT_SERVICE_NAME = 'consent-service';
/** Injection token: the validated ConsentServiceConfig. */
export const CONSENT_CONFIG = Symbol('CONSENT_CONFIG');
