import 'reflect-metadata';
import { loadConfigOrExit } from '@carerelay/config';
import { createServiceLogger } from '@carerelay/observability';
import { startFhirApi } from './bootstrap';
import { FhirApiConfig } from './fhir-api.config';
import { SubscriptionsModule } from './subscriptions/subscriptions.module';

async function main(): Promise<void> {
  const config = loadConfigOrExit(FhirApiConfig);
  // The Subscriptions Backport runs in the served process (tests add it where they need it).
  const base = { url: config.FHIR_BASE_URL };
  const { baseUrl } = await startFhirApi(config, {
    imports: [SubscriptionsModule.register({ baseUrl: () => base.url })],
  });
  base.url = baseUrl;
  createServiceLogger('fhir-api', config.LOG_LEVEL).info({ url: baseUrl }, 'listening');
}

main().catch((error: unknown) => {
  createServiceLogger('fhir-api').fatal({ err: error }, 'failed to start');
  process.exit(1);
});
