import type { INestApplication } from '@nestjs/common';
import { isTransientFhirError } from '@carerelay/fhir-client';
import { managementListenerOf, tlsFilesOf } from '@carerelay/config';
import { startService } from '@carerelay/service';
import { AppModule } from './app.module';
import { EhrConnectorConfig } from './ehr-connector.config';
import { ignoredByConnector } from './remote/remote-referral.rules';

/** Builds and starts the connector; tests call it with their own schema, group and port 0. */
export function startEhrConnector(config: EhrConnectorConfig): Promise<INestApplication> {
  return startService({
    name: 'ehr-connector',
    logLevel: config.LOG_LEVEL,
    module: AppModule.register(config),
    port: config.EHR_CONNECTOR_PORT,
    host: config.API_HOST,
    management: managementListenerOf(config),
    tls: tlsFilesOf(config),
    // Batches: a burst of CBO status changes is queued for the EHRs in a few transactions, not
    // one per change (one commit, one offset commit per batch).
    consumer: {
      groupId: config.EHR_CONNECTOR_CONSUMER_GROUP,
      batch: { maxMessages: 500 },
      isTransient: isTransientFhirError,
      ignores: ignoredByConnector(config.FHIR_API_BASE_URL.replace(/\/$/, '')),
    },
  });
}
