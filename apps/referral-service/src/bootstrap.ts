import { INestApplication } from '@nestjs/common';
import { applyServerTimeouts } from '@carerelay/http';
import { NestFactory } from '@nestjs/core';
import { FhirApiClient, FhirRequestError } from '@carerelay/fhir-client';
import { connectEventConsumer } from '@carerelay/messaging';
import {
  PinoNestLogger,
  consumerLogger,
  createServiceLogger,
  deadLetters,
} from '@carerelay/observability';
import { AppModule } from './app.module';
import { ignoredByReferralWorkflow } from './referrals/referral-events.handler';
import { REFERRAL_SERVICE_NAME, ReferralServiceConfig } from './referral-service.config';

/** Builds and starts the service; tests call it with their own schema and port 0. */
export async function startReferralService(
  config: ReferralServiceConfig,
  options: { schema?: string; groupId?: string; port?: number; fhirClient?: FhirApiClient } = {},
): Promise<INestApplication> {
  const logger = createServiceLogger(REFERRAL_SERVICE_NAME, config.LOG_LEVEL);
  const app = await NestFactory.create(
    AppModule.register(config, options.schema, options.fhirClient),
    { logger: new PinoNestLogger(logger) },
  );
  app.enableShutdownHooks();
  connectEventConsumer(app, {
    groupId: options.groupId ?? REFERRAL_SERVICE_NAME,
    onDeadLetter: (topic, error) => deadLetters.inc({ topic, error }),
    logger: consumerLogger(logger),
    ignores: ignoredByReferralWorkflow,
    // Handlers only decide (no network call in the transaction) and lock per referral, so more
    // partitions at once cost little and keep one slow partition from holding the others back.
    partitionsConsumedConcurrently: 8,
    // The FHIR API down or overloaded: wait for it rather than dead-letter the referral.
    isTransient: (error) =>
      error instanceof FhirRequestError &&
      (error.status === 0 || error.status === 429 || error.status >= 500),
  });
  // init first: it migrates the schema and provisions the topics the consumer subscribes to.
  await app.init();
  await app.startAllMicroservices();
  applyServerTimeouts(app.getHttpServer());
  await app.listen(options.port ?? config.REFERRAL_SERVICE_PORT, '127.0.0.1');
  return app;
}
