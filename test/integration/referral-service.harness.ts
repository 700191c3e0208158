import type { INestApplication } from '@nestjs/common';
import { TOPICS } from '@carerelay/contracts';
import { loadConfig } from '@carerelay/config';
import type { FhirApiClient } from '@carerelay/fhir-client';
import { startGroupAtLatest, testEnv } from '@carerelay/testing';
import { startReferralService } from '../../apps/referral-service/src/bootstrap';
import { ReferralServiceConfig } from '../../apps/referral-service/src/referral-service.config';

/**
 * referral-service in-process, in its own schema and consumer group (starting at the end of its
 * topics: earlier runs' events are not replayed), calling the FHIR API with `fhirClient` (the
 * platform's, by X-Dev-Actor in these tests).
 */
export async function startTestReferralService(options: {
  fhirBaseUrl: string;
  platformOrganizationId: string;
  schema: string;
  groupId: string;
  fhirClient: FhirApiClient;
  env?: Record<string, string>;
}): Promise<INestApplication> {
  const { KAFKA_BROKERS, DATABASE_URL } = testEnv();
  await startGroupAtLatest(options.groupId, [
    TOPICS.fhirChanges.name,
    TOPICS.consentEvents.name,
    TOPICS.followupEvents.name,
    TOPICS.directoryEvents.name,
  ]);
  return startReferralService(
    loadConfig(ReferralServiceConfig, {
      KAFKA_BROKERS,
      DATABASE_URL,
      OUTBOX_POLL_MS: '50',
      FHIR_API_BASE_URL: options.fhirBaseUrl,
      PLATFORM_ORGANIZATION_ID: options.platformOrganizationId,
      PLATFORM_CLIENT_ID: 'unused-with-dev-actor',
      PLATFORM_PRIVATE_JWK: '{}',
      ...options.env,
    }),
    { schema: options.schema, groupId: options.groupId, port: 0, fhirClient: options.fhirClient },
  );
}
