import 'reflect-metadata';
import { loadConfigOrExit } from '@carerelay/config';
import { startEhrConnector } from './bootstrap';
import { EhrConnectorConfig } from './ehr-connector.config';

async function main(): Promise<void> {
  const config = loadConfigOrExit(EhrConnectorConfig);
  const app = await startEhrConnector(config);
  console.log(`ehr-connector listening on ${await app.getUrl()}`);
}

main().catch((error: unknown) => {
  console.error('ehr-connector failed to start:', error);
  process.exit(1);
});
