import type { INestApplication } from '@nestjs/common';
import { managementListenerOf, tlsFilesOf } from '@carerelay/config';
import { startService } from '@carerelay/service';
import { AppModule } from './app.module';
import { ignoredByConsentLedger } from './consents/consent-change.handler';
import { routeUnchangedBy } from './referrals/referral-route.rules';
import { CONSENT_SERVICE_NAME, ConsentServiceConfig } from './consent-service.config';

/** Builds and starts the service; tests call it with their own schema and port 0. */
export function startConsentService(
  config: ConsentServiceConfig,
  options: { schema?: string; groupId?: string; port?: number } = {},
): Promise<INestApplication> {
  return startService({
    name: CONSENT_SERVICE_NAME,
    logLevel: config.LOG_LEVEL,
    module: AppModule.register(config, options.schema),
    port: options.port ?? config.CONSENT_SERVICE_PORT,
    host: config.API_HOST,
    management: managementListenerOf(config),
    tls: tlsFilesOf(config),
    // Passed over before any SQL (no transaction, no inbox row): the FHIR changes that are not
    // Consents, and the referral events that only repeat a referral's route.
    consumer: {
      groupId: options.groupId ?? CONSENT_SERVICE_NAME,
      ignores: (event) => ignoredByConsentLedger(event) || routeUnchangedBy(event),
    },
  });
}
