import { IsInt, Matches, Max, Min } from 'class-validator';
import { ServiceConfig } from '@carerelay/config';

export class AnalyticsServiceConfig extends ServiceConfig {
  @IsInt()
  @Min(0)
  @Max(65535)
  ANALYTICS_SERVICE_PORT = 8087;

  /** The database schema the service owns; another only for tests and side-by-side runs. */
  @Matches(/^[a-z_][a-z0-9_]{0,62}$/, { message: 'must be a lower-case PostgreSQL schema name' })
  ANALYTICS_DB_SCHEMA = 'analytics';

  /** The Kafka consumer group (and inbox consumer name). */
  @Matches(/^[A-Za-z0-9._-]{1,200}$/, { message: 'must be a Kafka group id' })
  ANALYTICS_CONSUMER_GROUP = 'analytics-service';
}

export const ANALYTICS_SCHEMA = 'analytics';
export const ANALYTICS_SERVICE_NAME = 'analytics-service';
