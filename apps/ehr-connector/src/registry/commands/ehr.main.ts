import 'reflect-metadata';
import { cliEnvironment, exitOnConfigError, loadConfig, processIo } from '@carerelay/config';
import { openServiceDataSource } from '@carerelay/persistence';
import { DataSource } from 'typeorm';
import {
  EHR_USAGE,
  EhrCliConfig,
  ehrConnectorMigrations,
  ehrRegistryOn,
  ehrSubscriptionsOn,
  runEhrCli,
} from './ehr.commands';

export const USAGE = EHR_USAGE;

/**
 * `npm run cli -- ehr:add|ehr:list|ehr:subscribe|ehr:rekey`: the endpoint registry, on the
 * connector's schema.
 */
export async function main(argv: string[], io = processIo): Promise<number> {
  let dataSource: DataSource | undefined;
  const rules = {
    allowedTokenOrigins: (process.env.EHR_TOKEN_URL_ALLOWED_ORIGINS ?? '')
      .split(',')
      .filter((o) => o !== ''),
  };
  const open = async () => {
    const config = loadConfig(EhrCliConfig, cliEnvironment(io));
    dataSource = await openServiceDataSource({
      url: config.DATABASE_URL,
      schema: config.EHR_CONNECTOR_DB_SCHEMA,
      entities: [],
      migrations: ehrConnectorMigrations(),
      poolSize: 1,
      applicationName: 'carerelay-cli',
    });
    return { dataSource, config };
  };
  try {
    return await exitOnConfigError(io, () =>
      runEhrCli(argv, {
        ...io,
        rules,
        registry: async () => {
          const { dataSource: ds, config } = await open();
          return ehrRegistryOn(ds, config);
        },
        subscriptions: async () => {
          const { dataSource: ds, config } = await open();
          return ehrSubscriptionsOn(ds, config, rules);
        },
      }),
    );
  } finally {
    if (dataSource?.isInitialized) await dataSource.destroy();
  }
}
