import { DataSource, DataSourceOptions, EntitySchema, MixedList } from 'typeorm';
import { Client } from 'pg';
import { preparingClient, StatementNames } from './prepared-statements';

type EntityList = MixedList<string | (new () => unknown) | EntitySchema>;
type MigrationList = MixedList<string | (new () => unknown)>;

export interface ServiceDataSourceOptions {
  url: string;
  /** Each service owns exactly one schema; its tables and its migrations table live there. */
  schema: string;
  entities: EntityList;
  migrations: MigrationList;
  poolSize?: number;
  applicationName?: string;
  timeouts?: Partial<DatabaseTimeouts>;
}

/**
 * How long the service waits on PostgreSQL before it calls the database unreachable. Without
 * them a connection cut by the network (no reset, nothing more arrives) hangs its query, and the
 * consumer or poller awaiting it, until TCP gives up many minutes later.
 */
export interface DatabaseTimeouts {
  /** A free connection from the pool, or a new one's first answer. */
  connectMs: number;
  /** A statement's answer; past it the client drops the connection (migrations have none). */
  queryMs: number;
  /**
   * Server side: a session idle inside a transaction this long is ended, so that the row locks
   * of a client cut off mid-transaction do not hold up every other instance.
   */
  idleInTransactionMs: number;
}

export const DEFAULT_DATABASE_TIMEOUTS: DatabaseTimeouts = {
  connectMs: 10_000,
  queryMs: 120_000,
  idleInTransactionMs: 60_000,
};

/** The pool settings (pg) that carry the timeouts and TCP keep-alive. */
export function poolSettingsOf(
  timeouts: Partial<DatabaseTimeouts> = {},
  { withQueryTimeout = true } = {},
): Record<string, unknown> {
  const t = { ...DEFAULT_DATABASE_TIMEOUTS, ...timeouts };
  return {
    connectionTimeoutMillis: t.connectMs,
    ...(withQueryTimeout ? { query_timeout: t.queryMs } : {}),
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    // READ COMMITTED whatever the server's default, so that a transaction needs no SET of its own
    // (one round trip fewer per transaction).
    options: `-c idle_in_transaction_session_timeout=${Math.round(t.idleInTransactionMs)} -c default_transaction_isolation=read\\ committed`,
  };
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function createServiceDataSource(
  options: ServiceDataSourceOptions,
  { forMigrations = false } = {},
): DataSource {
  if (!SCHEMA_NAME.test(options.schema)) throw new Error(`invalid schema name ${options.schema}`);
  const config: DataSourceOptions = {
    type: 'postgres',
    url: options.url,
    schema: options.schema,
    entities: options.entities,
    migrations: options.migrations,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    migrationsRun: false,
    // Off: a failed query's log line would carry its parameters, i.e. the resource (PHI).
    logging: false,
    applicationName: options.applicationName ?? `carerelay-${options.schema}`,
    extra: {
      max: forMigrations ? 1 : (options.poolSize ?? 10),
      ...poolSettingsOf(options.timeouts, { withQueryTimeout: !forMigrations }),
      // Migrations run each statement once.
      ...(forMigrations ? {} : { Client: preparingClient(new StatementNames()) }),
    },
  };
  return new DataSource(config);
}

/**
 * Creates the service's schema when missing, initializes the data source and runs pending
 * migrations. Services call this at start; tests call it too, so both use the same tables.
 */
export async function openServiceDataSource(
  options: ServiceDataSourceOptions,
): Promise<DataSource> {
  await ensureSchema(options.url, options.schema);
  await underMigrationLock(options.url, options.schema, async () => {
    // Migrations on a connection of their own without a query timeout: building an index on a
    // large table may take longer than any statement of the running service should.
    const migrator = createServiceDataSource(options, { forMigrations: true });
    await migrator.initialize();
    try {
      await migrator.runMigrations({ transaction: 'each' });
    } finally {
      await migrator.destroy();
    }
  });
  const dataSource = createServiceDataSource(options);
  await dataSource.initialize();
  return dataSource;
}

/**
 * Runs `work` holding the schema's migration lock (a session advisory lock on a connection of its
 * own): instances of a service started together (a scale-out, a rolling deploy) would otherwise
 * each find the same migrations pending and run them at once, and all but one would fail on the
 * tables the first created. The lock ends with the session if the process dies.
 */
async function underMigrationLock(url: string, schema: string, work: () => Promise<void>) {
  const client = new Client({
    connectionString: url,
    application_name: `carerelay-${schema}-migrations`,
  });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [
      `carerelay.migrations.${schema}`,
    ]);
    await work();
  } finally {
    // Ending the session releases the lock.
    await client.end().catch(() => undefined);
  }
}

export async function ensureSchema(url: string, schema: string): Promise<void> {
  if (!SCHEMA_NAME.test(schema)) throw new Error(`invalid schema name ${schema}`);
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  } catch (error) {
    // Two processes creating the same schema at once: one wins, the other sees a duplicate.
    if ((error as { code?: string }).code !== '23505') throw error;
  } finally {
    await client.end();
  }
}

export async function dropSchema(url: string, schema: string): Promise<void> {
  if (!SCHEMA_NAME.test(schema)) throw new Error(`invalid schema name ${schema}`);
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}
