import { INestApplication } from '@nestjs/common';
import { applyServerTimeouts } from '@carerelay/http';
import { NestFactory } from '@nestjs/core';
import { connectEventConsumer } from '@carerelay/messaging';
import {
  PinoNestLogger,
  consumerLogger,
  createServiceLogger,
  deadLetters,
} from '@carerelay/observability';
import { AnalyticsServiceConfig } from './analytics-service.config';
import { AppModule } from './app.module';

/** Builds and starts the service; tests call it with their own schema, group and port 0. */
export async function startAnalyticsService(
  config: AnalyticsServiceConfig,
  options: { schema?: string; groupId?: string; port?: number } = {},
): Promise<INestApplication> {
  const logger = createServiceLogger('analytics-service', config.LOG_LEVEL);
  const app = await NestFactory.create(
    AppModule.register(config, options.schema ?? config.ANALYTICS_DB_SCHEMA),
    { logger: new PinoNestLogger(logger) },
  );
  app.enableShutdownHooks();
  connectEventConsumer(app, {
    groupId: options.groupId ?? config.ANALYTICS_CONSUMER_GROUP,
    onDeadLetter: (topic, error) => deadLetters.inc({ topic, error }),
    logger: consumerLogger(logger),
  });
  // init first: it migrates the schema and provisions the topics.
  await app.init();
  await app.startAllMicroservices();
  applyServerTimeouts(app.getHttpServer());
  await app.listen(options.port ?? config.ANALYTICS_SERVICE_PORT, '127.0.0.1');
  return app;
}
