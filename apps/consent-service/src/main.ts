import 'reflect-metadata';
import { loadConfigOrExit } from '@carerelay/config';
import { createServiceLogger } from '@carerelay/observability';
import { startConsentService } from './bootstrap';
import { ConsentServiceConfig } from './consent-service.config';

async function main(): Promise<void> {
  const config = loadConfigOrExit(ConsentServiceConfig);
  const app = await startConsentService(config);
  createServiceLogger('consent-service', config.LOG_LEVEL).info(
    { url: await app.getUrl() },
    'listening',
  );
}

main().catch((error: unknown) => {
  createServiceLogger('consent-service').fatal({ err: error }, 'failed to start');
  process.exit(1);
});
