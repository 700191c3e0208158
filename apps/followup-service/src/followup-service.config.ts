import { IsInt, Matches, Max, Min } from 'class-validator';
import { ServiceConfig } from '@carerelay/config';

export class FollowupServiceConfig extends ServiceConfig {
  @IsInt()
  @Min(0)
  @Max(65535)
  FOLLOWUP_SERVICE_PORT = 8084;

  /** How often the timer poller looks for due timers. */
  @IsInt()
  @Min(10)
  @Max(60_000)
  FOLLOWUP_POLL_MS = 1000;

  /** How many due timers one poller transaction claims. */
  @IsInt()
  @Min(1)
  @Max(10_000)
  FOLLOWUP_POLL_BATCH = 100;

  /** The database schema the service owns; another only for tests and side-by-side runs. */
  @Matches(/^[a-z_][a-z0-9_]{0,62}$/, { message: 'must be a lower-case PostgreSQL schema name' })
  FOLLOWUP_DB_SCHEMA = 'followup';

  /** The Kafka consumer group (and inbox consumer name). */
  @Matches(/^[A-Za-z0-9._-]{1,200}$/, { message: 'must be a Kafka group id' })
  FOLLOWUP_CONSUMER_GROUP = 'followup-service';
}

export const FOLLOWUP_SCHEMA = 'followup';
export const FOLLOWUP_SERVICE_NAME = 'followup-service';
