import type { INestApplication } from '@nestjs/common';
import { startService } from '@carerelay/service';
import { AnalyticsServiceConfig } from './analytics-service.config';
import { AppModule } from './app.module';

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
    http: false,
    consumer: { groupId: options.groupId ?? config.ANALYTICS_CONSUMER_GROUP },
  });
}
