import { IsIn, IsInt, IsNotEmpty, IsString, Matches, Max, Min, ValidateIf } from 'class-validator';

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

  /** How long to wait on PostgreSQL before calling it unreachable (libs/persistence). */
  @IsInt()
  @Min(100)
  @Max(600_000)
  DB_CONNECT_TIMEOUT_MS = 10_000;

  @IsInt()
  @Min(100)
  @Max(3_600_000)
  DB_QUERY_TIMEOUT_MS = 120_000;

  @IsInt()
  @Min(100)
  @Max(3_600_000)
  DB_IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000;

  /**
   * Connections the service's pool may hold (its outbox relay and LISTEN connections come on
   * top). The FHIR API and the ehr-connector have their own (FHIR_DB_POOL_SIZE,
   * EHR_CONNECTOR_DB_POOL_SIZE). Every instance of every service shares the one server's
   * max_connections: scaled out, each instance gets its share.
   */
  @IsInt()
  @Min(1)
  @Max(500)
  DB_POOL_SIZE = 10;

  /**
   * Where the server's autovacuum is off: how often the service checks its own tables and
   * vacuums or analyzes those autovacuum would have (0: never).
   */
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  DB_MAINTENANCE_INTERVAL_MS = 30_000;

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';

  @IsString()
  @IsNotEmpty()
  NODE_ENV = 'development';

  @IsInt()
  @Min(10)
  @Max(10_000)
  /** The relay's fallback poll: a commit's NOTIFY wakes it at once. */
  OUTBOX_POLL_MS = 1000;

  /**
   * The management listener: where /health/* and /metrics are served, off the API's port.
   * Empty: on the API's own port (development, in-process tests); a port (0: any free one):
   * only there, and the API's port answers them 404.
   */
  @Matches(/^(\d{1,5})?$/, { message: 'must be a port number (or empty: the API port)' })
  MANAGEMENT_PORT = '';

  @IsString()
  @IsNotEmpty()
  MANAGEMENT_HOST = '127.0.0.1';

  /**
   * The address the API listens on: loopback by default; `0.0.0.0` where the callers are on
   * other hosts (containers of one compose network, pods behind a service).
   */
  @IsString()
  @IsNotEmpty()
  API_HOST = '127.0.0.1';

  /**
   * Native TLS on the API's port: a PEM certificate (its chain after it) and its PEM private
   * key, both or neither, read at start. Empty: plain HTTP (behind a TLS-terminating proxy).
   * The management listener stays plain HTTP.
   */
  @ValidateIf((config: ServiceConfig) => config.TLS_KEY_FILE !== '')
  @IsNotEmpty({ message: 'must be set with TLS_KEY_FILE (both or neither)' })
  TLS_CERT_FILE = '';

  @ValidateIf((config: ServiceConfig) => config.TLS_CERT_FILE !== '')
  @IsNotEmpty({ message: 'must be set with TLS_CERT_FILE (both or neither)' })
  TLS_KEY_FILE = '';

  @IsIn(['TLSv1.2', 'TLSv1.3'])
  TLS_MIN_VERSION: 'TLSv1.2' | 'TLSv1.3' = 'TLSv1.2';
}

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  minVersion: 'TLSv1.2' | 'TLSv1.3';
}

/** The API listener's certificate and key files (undefined: plain HTTP). */
export function tlsFilesOf(config: ServiceConfig): TlsFiles | undefined {
  if (config.TLS_CERT_FILE === '' || config.TLS_KEY_FILE === '') return undefined;
  return {
    certFile: config.TLS_CERT_FILE,
    keyFile: config.TLS_KEY_FILE,
    minVersion: config.TLS_MIN_VERSION,
  };
}

/** Where a service serves health and metrics apart from its API (undefined: on the API port). */
export function managementListenerOf(
  config: ServiceConfig,
): { port: number; host: string } | undefined {
  if (config.MANAGEMENT_PORT === '') return undefined;
  return { port: Number(config.MANAGEMENT_PORT), host: config.MANAGEMENT_HOST };
}

export class HttpServiceConfig extends ServiceConfig {
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 0;
}

/** The database timeouts, as libs/persistence takes them. */
export const databaseTimeoutsOf = (config: ServiceConfig) => ({
  connectMs: config.DB_CONNECT_TIMEOUT_MS,
  queryMs: config.DB_QUERY_TIMEOUT_MS,
  idleInTransactionMs: config.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
});

export const brokersOf = (config: ServiceConfig): string[] => config.KAFKA_BROKERS.split(',');
