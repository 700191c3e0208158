import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { managementListenerOf, tlsFilesOf } from '@carerelay/config';
import { TOPICS } from '@carerelay/contracts';
import { startService } from '@carerelay/service';
import { AnalyticsServiceConfig } from './analytics-service.config';
import { AppModule } from './app.module';
import { ignoredByAnalytics } from './ingest/analytics-events.handler';
import { ANALYTICS_TOPICS } from './rebuild/rebuild';

/** Every partition of the topics the read model follows. */
const ANALYTICS_PARTITIONS = Object.values(TOPICS)
  .filter((topic) => (ANALYTICS_TOPICS as readonly string[]).includes(topic.name))
  .reduce((sum, topic) => sum + topic.partitions, 0);

/** Builds and starts the service; tests call it with their own schema, group and port 0. */
export function startAnalyticsService(
  config: AnalyticsServiceConfig,
  options: { schema?: string; groupId?: string; port?: number } = {},
): Promise<INestApplication> {
  return startService({
    name: 'analytics-service',
    logLevel: config.LOG_LEVEL,
    module: AppModule.register(config, options.schema ?? config.ANALYTICS_DB_SCHEMA),
    port: options.port ?? config.ANALYTICS_SERVICE_PORT,
    host: config.API_HOST,
    management: managementListenerOf(config),
    tls: tlsFilesOf(config),
    http: false,
    // Batches: a backlog (a replay, a rebuild) is read at thousands of events a second. Live,
    // a fetch would bring a message or two: the broker gathers up to a second of them instead (a
    // figure no dashboard shows), and since the writers serialize on the read model's lock
    // anyway, every partition is read at once and the batches of a fetch share one transaction.
    consumer: {
      groupId: options.groupId ?? config.ANALYTICS_CONSUMER_GROUP,
      batch: { maxMessages: 1000, acrossPartitions: true, gatherMs: 1000 },
      partitionsConsumedConcurrently: ANALYTICS_PARTITIONS,
      ignores: ignoredByAnalytics,
    },
    configure: (app) => documentApi(app),
  });
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
