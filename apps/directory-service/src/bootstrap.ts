import { INestApplication, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { useServiceHttp, applyServerTimeouts } from '@carerelay/http';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { FhirApiClient, FhirRequestError } from '@carerelay/fhir-client';
import { connectEventConsumer } from '@carerelay/messaging';
import {
  PinoNestLogger,
  consumerLogger,
  createServiceLogger,
  deadLetters,
} from '@carerelay/observability';
import { AppModule, publishesToFhir } from './app.module';
import { DirectoryServiceConfig } from './directory-service.config';

/** The FHIR API down, overloaded or briefly conflicting: wait for it rather than dead-letter. */
export const isTransientFhirError = (error: unknown): boolean =>
  error instanceof FhirRequestError &&
  (error.status === 0 || error.status === 408 || error.status === 429 || error.status >= 500);

/** Nest's own log levels for LOG_LEVEL (the pino logger filters by LOG_LEVEL itself). */
export function nestLogLevels(level: string): LogLevel[] | false {
  switch (level) {
    case 'silent':
      return false;
    case 'fatal':
    case 'error':
      return ['fatal', 'error'];
    case 'warn':
      return ['fatal', 'error', 'warn'];
    case 'debug':
    case 'trace':
      return ['fatal', 'error', 'warn', 'log', 'debug'];
    default:
      return ['fatal', 'error', 'warn', 'log'];
  }
}

/** Builds and starts the service; tests call it with their own schema, group and port 0. */
export async function startDirectoryService(
  config: DirectoryServiceConfig,
  options: { schema?: string; groupId?: string; port?: number; fhirClient?: FhirApiClient } = {},
): Promise<INestApplication> {
  const logger = createServiceLogger('directory-service', config.LOG_LEVEL);
  const app = await NestFactory.create<NestExpressApplication>(
    AppModule.register(config, options.schema, options.fhirClient),
    { bodyParser: false, logger: new PinoNestLogger(logger) },
  );
  // Whole directories arrive as one HSDS document; every other body is one entry.
  useServiceHttp(app, {
    limit: '256kb',
    routes: [{ path: '/import/hsds', limit: config.DIRECTORY_BODY_LIMIT }],
  });
  app.enableShutdownHooks();
  const fhir = publishesToFhir(config, options.fhirClient);
  if (fhir) {
    connectEventConsumer(app, {
      groupId: options.groupId ?? config.DIRECTORY_FHIR_CONSUMER_GROUP,
      onDeadLetter: (topic, error) => deadLetters.inc({ topic, error }),
      logger: consumerLogger(logger),
      isTransient: isTransientFhirError,
    });
  }
  // init first: it migrates the schema, provisions the topics and seeds the sample if asked.
  await app.init();
  if (fhir) await app.startAllMicroservices();
  applyServerTimeouts(app.getHttpServer());
  await app.listen(options.port ?? config.DIRECTORY_SERVICE_PORT, '127.0.0.1');
  return app;
}
