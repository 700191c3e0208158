import { IsIn, IsInt, IsNotEmpty, IsString, Matches, Max, Min } from 'class-validator';

const BROKER_LIST = /^[^\s,:]+:\d+(,[^\s,:]+:\d+)*$/;
const POSTGRES_URL = /^postgres(ql)?:\/\/.+/;

/**
 * What every CareRelay service reads from its environment. Properties must have an initial value
 * (undefined for required ones) so that loadConfig knows which variables to read.
 */
export class ServiceConfig {
  @Matches(BROKER_LIST, { message: 'must be a comma-separated list of host:port' })
  KAFKA_BROKERS: string = undefined as unknown as string;

  @Matches(POSTGRES_URL, { message: 'must be a postgres:// URL' })
  DATABASE_URL: string = undefined as unknown as string;

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';

  @IsString()
  @IsNotEmpty()
  NODE_ENV = 'development';

  @IsInt()
  @Min(10)
  @Max(10_000)
  OUTBOX_POLL_MS = 200;
}

export class HttpServiceConfig extends ServiceConfig {
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 0;
}

export const brokersOf = (config: ServiceConfig): string[] => config.KAFKA_BROKERS.split(',');
