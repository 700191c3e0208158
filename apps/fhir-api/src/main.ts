import 'reflect-metadata';
import { runServiceMain } from '@carerelay/service';
import { startFhirApi } from './bootstrap';
import { FhirApiConfig } from './fhir-api.config';
import { SubscriptionsModule } from './subscriptions/subscriptions.module';

runServiceMain('fhir-api', FhirApiConfig, async (config) => {
  // The Subscriptions Backport runs in the served process (tests add it where they need it).
  const base = { url: config.FHIR_BASE_URL };
  const api = await startFhirApi(config, {
    imports: [SubscriptionsModule.register({ baseUrl: () => base.url })],
  });
  base.url = api.baseUrl;
  return api;
});
