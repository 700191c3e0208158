import 'reflect-metadata';
import { loadConfigOrExit } from '@carerelay/config';
import { startConsentService } from './bootstrap';
import { ConsentServiceConfig } from './consent-service.config';

async function main(): Promise<void> {
  const config = loadConfigOrExit(ConsentServiceConfig);
  const app = await startConsentService(config);
  console.log(`consent-service listening on ${await app.getUrl()}`);
}

main().catch((error: unknown) => {
  console.error('consent-service failed to start:', error);
  process.exit(1);
});
