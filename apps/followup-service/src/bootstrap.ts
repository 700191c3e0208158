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
import { FollowupServiceConfig } from './followup-service.config';

/** Builds and starts the service; tests call it with their own schema and port 0. */
export async function startFollowupService(
  config: FollowupServiceConfig,
  options: { schema?: string; groupId?: string; port?: number } = {},
): Promise<INestApplication> {
  const logger = createServiceLogger('followup-service', config.LOG_LEVEL);
  const app = await NestFactory.create(
    AppModule.register(config, options.schema ?? config.FOLLOWUP_DB_SCHEMA),
    { bodyParser: false, logger: new PinoNestLogger(logger) },
  );
  useServiceHttp(app);
  app.enableShutdownHooks();
  connectEventConsumer(app, {
    groupId: options.groupId ?? config.FOLLOWUP_CONSUMER_GROUP,
    onDeadLetter: (topic, error) => deadLetters.inc({ topic, error }),
    logger: consumerLogger(logger),
  });
  // init first: it migrates the schema, provisions the topics and starts the timer poller.
  await app.init();
  await app.startAllMicroservices();
  applyServerTimeouts(app.getHttpServer());
  await app.listen(options.port ?? config.FOLLOWUP_SERVICE_PORT, '127.0.0.1');
  return app;
}
