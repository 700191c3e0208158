import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { useServiceHttp, applyServerTimeouts } from '@carerelay/http';
import { connectEventConsumer } from '@carerelay/messaging';
import {
  PinoNestLogger,
  consumerLogger,
  createServiceLogger,
  deadLetters,
} from '@carerelay/observability';
import { AppModule } from './app.module';
import { CONSENT_SERVICE_NAME, ConsentServiceConfig } from './consent-service.config';

/** Builds and starts the service; tests call it with their own schema and port 0. */
export async function startConsentService(
  config: ConsentServiceConfig,
  options: { schema?: string; groupId?: string; port?: number } = {},
): Promise<INestApplication> {
  const logger = createServiceLogger(CONSENT_SERVICE_NAME, config.LOG_LEVEL);
  const app = await NestFactory.create(AppModule.register(config, options.schema), {
    bodyParser: false,
    logger: new PinoNestLogger(logger),
  });
  useServiceHttp(app);
  app.enableShutdownHooks();
  connectEventConsumer(app, {
    groupId: options.groupId ?? CONSENT_SERVICE_NAME,
    onDeadLetter: (topic, error) => deadLetters.inc({ topic, error }),
    logger: consumerLogger(logger),
  });
  // init first: it migrates the schema and provisions the topics the consumer subscribes to.
  await app.init();
  await app.startAllMicroservices();
  applyServerTimeouts(app.getHttpServer());
  await app.listen(options.port ?? config.CONSENT_SERVICE_PORT, '127.0.0.1');
  return app;
}
