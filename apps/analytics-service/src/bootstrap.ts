import { INestApplication } from '@nestjs/common';
import { applyServerTimeouts } from '@carerelay/http';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
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
  documentApi(app);
  // init first: it migrates the schema and provisions the topics.
  await app.init();
  await app.startAllMicroservices();
  applyServerTimeouts(app.getHttpServer());
  await app.listen(options.port ?? config.ANALYTICS_SERVICE_PORT, '127.0.0.1');
  return app;
}

/**
 * OpenAPI at /docs (UI) and /docs/openapi.json. Public on purpose: it describes the API and
 * holds no data (no figure, no group name), developers of the dashboard and analysts need it
 * before they hold a token, and every endpoint it describes still requires one.
 */
function documentApi(app: INestApplication): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('CareRelay analytics')
      .setDescription(
        'Closure, timeliness, equity gaps and unmet need of the referral network, from the event ' +
          'streams. Bearer: an access token of the FHIR API (SMART Backend Services) with role ' +
          'coordinator or platform. Aggregates only; small cells suppressed.',
      )
      .setVersion('1')
      .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/openapi.json' });
}
