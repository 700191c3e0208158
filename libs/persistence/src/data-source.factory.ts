import { DataSource, DataSourceOptions, EntitySchema, MixedList } from 'typeorm';
import { Client } from 'pg';

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
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function createServiceDataSource(options: ServiceDataSourceOptions): DataSource {
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
    extra: { max: options.poolSize ?? 10 },
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
  const dataSource = createServiceDataSource(options);
  await dataSource.initialize();
  await dataSource.runMigrations({ transaction: 'each' });
  return dataSource;
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
