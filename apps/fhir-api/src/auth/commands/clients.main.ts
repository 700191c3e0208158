import 'reflect-metadata';
import { cliEnvironment, exitOnConfigError, loadConfig, processIo } from '@carerelay/config';
import { openServiceDataSource } from '@carerelay/persistence';
import { DataSource } from 'typeorm';
import { CliConfig } from './clients-cli.config';
import { runCli, USAGE } from './clients.commands';
import { fhirApiMigrations } from './fhir-api.migrations';

export { USAGE };

/**
 * `npm run cli -- clients:add|clients:list|clients:disable`: the SMART client registry of the
 * fhir-api's auth. Runs the fhir-api's migrations (the same list as the app) before touching its
 * tables.
 */
export async function main(argv: string[], io = processIo): Promise<number> {
  let dataSource: DataSource | undefined;
  let config: CliConfig | undefined;
  const configOrExit = (): CliConfig => {
    config ??= loadConfig(CliConfig, cliEnvironment(io));
    return config;
  };
  try {
    return await exitOnConfigError(io, async () => {
      const needsConfig = argv[0] !== undefined && !['help', '--help', '-h'].includes(argv[0]);
      const baseUrl = needsConfig ? configOrExit().FHIR_BASE_URL : '';
      return runCli(argv, {
        baseUrl,
        ...io,
        dataSource: async () => {
          const { DATABASE_URL, FHIR_DB_SCHEMA } = configOrExit();
          dataSource ??= await openServiceDataSource({
            url: DATABASE_URL,
            schema: FHIR_DB_SCHEMA,
            entities: [],
            migrations: fhirApiMigrations(),
            poolSize: 1,
            applicationName: 'carerelay-cli',
          });
          return dataSource;
        },
      });
    });
  } finally {
    if (dataSource?.isInitialized) await dataSource.destroy();
  }
}
