import 'reflect-metadata';
import { loadConfigOrExit } from '@carerelay/config';
import { createServiceLogger } from '@carerelay/observability';
import { startEhrConnector } from './bootstrap';
import { EhrConnectorConfig } from './ehr-connector.config';

async function main(): Promise<void> {
  const config = loadConfigOrExit(EhrConnectorConfig);
  const app = await startEhrConnector(config);
  createServiceLogger('ehr-connector', config.LOG_LEVEL).info(
    { url: await app.getUrl() },
    'listening',
  );
}

main().catch((error: unknown) => {
  createServiceLogger('ehr-connector').fatal({ err: error }, 'failed to start');
  process.exit(1);
});
