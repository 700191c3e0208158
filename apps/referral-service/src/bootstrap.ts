import type { INestApplication } from '@nestjs/common';
import { FhirApiClient, isTransientFhirError } from '@carerelay/fhir-client';
import { managementListenerOf, tlsFilesOf } from '@carerelay/config';
import { startService } from '@carerelay/service';
import { AppModule } from './app.module';
import type { ReferralFhirGateway } from './fhir/referral-fhir.gateway';
import {
  ignoredByReferralWorkflow,
  ownSourceTaskVersion,
} from './referrals/referral-events.handler';
import { REFERRAL_FHIR_GATEWAY } from './referrals/referral-workflow.service';
import { REFERRAL_SERVICE_NAME, ReferralServiceConfig } from './referral-service.config';

/** Builds and starts the service; tests call it with their own schema and port 0. */
export function startReferralService(
  config: ReferralServiceConfig,
  options: { schema?: string; groupId?: string; port?: number; fhirClient?: FhirApiClient } = {},
): Promise<INestApplication> {
  let gateway: ReferralFhirGateway | undefined;
  return startService({
    name: REFERRAL_SERVICE_NAME,
    logLevel: config.LOG_LEVEL,
    module: AppModule.register(config, options.schema, options.fhirClient),
    port: options.port ?? config.REFERRAL_SERVICE_PORT,
    host: config.API_HOST,
    management: managementListenerOf(config),
    tls: tlsFilesOf(config),
    http: false,
    consumer: {
      groupId: options.groupId ?? REFERRAL_SERVICE_NAME,
      // The FHIR API down or overloaded: wait for it rather than dead-letter the referral.
      isTransient: isTransientFhirError,
      ignores: (event, app) =>
        ignoredByReferralWorkflow(event) ||
        ownSourceTaskVersion(
          event,
          (gateway ??= app.get<ReferralFhirGateway>(REFERRAL_FHIR_GATEWAY)),
        ),
      // Handlers only decide (no network call in the transaction) and lock per referral, so more
      // partitions at once cost little and keep one slow partition from holding the others back.
      partitionsConsumedConcurrently: 8,
    },
  });
}
