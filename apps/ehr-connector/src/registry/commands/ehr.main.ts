import 'reflect-metadata';
import { cliEnvironment, exitOnConfigError, loadConfig, processIo } from '@carerelay/config';
import { openServiceDataSource } from '@carerelay/persistence';
import { DataSource } from 'typeorm';
import {
  EHR_USAGE,
  EhrCliConfig,
  ehrConnectorMigrations,
  ehrRegistryOn,
  runEhrCli,
} from './ehr.commands';

export const USAGE = EHR_USAGE;

/** `npm run cli -- ehr:add|ehr:list|ehr:rekey`: the endpoint registry, on the connector's schema. */
export async function main(argv: string[], io = processIo): Promise<number> {
  let dataSource: DataSource | undefined;
  try {
    return await exitOnConfigError(io, () =>
      runEhrCli(argv, {
        ...io,
        rules: {
          allowedTokenOrigins: (process.env.EHR_TOKEN_URL_ALLOWED_ORIGINS ?? '')
            .split(',')
            .filter((o) => o !== ''),
        },
        registry: async () => {
          const config = loadConfig(EhrCliConfig, cliEnvironment(io));
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
      }),
    );
  } finally {
    if (dataSource?.isInitialized) await dataSource.destroy();
  }
}
