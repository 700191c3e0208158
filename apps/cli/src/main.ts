import 'reflect-metadata';
import { ConfigError, loadConfig } from '@carerelay/config';
import { openServiceDataSource } from '@carerelay/persistence';
import { DataSource } from 'typeorm';
import { isAnalyticsCommand, runAnalyticsCli } from './analytics-commands';
import { CliConfig } from './cli.config';
import { EXIT, runCli } from './clients.commands';
import {
  EhrCliConfig,
  ehrConnectorMigrations,
  ehrRegistryOn,
  isEhrCommand,
  runEhrCli,
} from './ehr-commands';
import { fhirApiMigrations } from './fhir-api-migrations';
import { withRunningNetwork } from './running-network';

/** Unset variables come from the network `npm start` runs here, if one does. */
function cliEnvironment(): Record<string, string | undefined> {
  const { env, from } = withRunningNetwork(process.env);
  if (from) process.stderr.write(`using the running network recorded in ${from}\n`);
  return env;
}

/**
 * CareRelay's command line: `npm run cli -- clients:add --org <id> --role <role> --jwks <file>`,
 * `clients:list`, `clients:disable <client_id>`, `analytics:rebuild`. Runs the fhir-api's
 * migrations (the same list as the app) before touching its tables.
 */
async function main(argv: string[]): Promise<number> {
  if (isEhrCommand(argv[0])) return ehrMain(argv);
  if (isAnalyticsCommand(argv[0]))
    return runAnalyticsCli(argv, {
      out: (text) => process.stdout.write(text),
      err: (text) => process.stderr.write(text),
    });
  let dataSource: DataSource | undefined;
  let config: CliConfig | undefined;
  const configOrExit = (): CliConfig => {
    config ??= loadConfig(CliConfig, cliEnvironment());
    return config;
  };
  try {
    const needsConfig = argv[0] !== undefined && !['help', '--help', '-h'].includes(argv[0]);
    const baseUrl = needsConfig ? configOrExit().FHIR_BASE_URL : '';
    return await runCli(argv, {
      baseUrl,
      out: (text) => process.stdout.write(text),
      err: (text) => process.stderr.write(text),
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
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return EXIT.config;
    }
    throw error;
  } finally {
    if (dataSource?.isInitialized) await dataSource.destroy();
  }
}

/** `ehr:add` / `ehr:list` / `ehr:rekey`: the ehr-connector's endpoint registry, on its own schema. */
async function ehrMain(argv: string[]): Promise<number> {
  let dataSource: DataSource | undefined;
  try {
    return await runEhrCli(argv, {
      out: (text) => process.stdout.write(text),
      err: (text) => process.stderr.write(text),
      rules: {
        allowedTokenOrigins: (process.env.EHR_TOKEN_URL_ALLOWED_ORIGINS ?? '')
          .split(',')
          .filter((o) => o !== ''),
      },
      registry: async () => {
        const config = loadConfig(EhrCliConfig, cliEnvironment());
        dataSource = await openServiceDataSource({
          url: config.DATABASE_URL,
          schema: config.EHR_CONNECTOR_DB_SCHEMA,
          entities: [],
          migrations: ehrConnectorMigrations(),
          poolSize: 1,
          applicationName: 'carerelay-cli',
        });
        return ehrRegistryOn(dataSource, config);
      },
    });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return EXIT.config;
    }
    throw error;
  } finally {
    if (dataSource?.isInitialized) await dataSource.destroy();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
