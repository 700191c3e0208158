import type { INestApplication } from '@nestjs/common';
import { managementListenerOf, tlsFilesOf } from '@carerelay/config';
import { startService } from '@carerelay/service';
import { AppModule } from './app.module';
import { FollowupServiceConfig } from './followup-service.config';

/** Builds and starts the service; tests call it with their own schema and port 0. */
export function startFollowupService(
  config: FollowupServiceConfig,
  options: { schema?: string; groupId?: string; port?: number } = {},
): Promise<INestApplication> {
  return startService({
    name: 'followup-service',
    logLevel: config.LOG_LEVEL,
    module: AppModule.register(config, options.schema ?? config.FOLLOWUP_DB_SCHEMA),
    port: options.port ?? config.FOLLOWUP_SERVICE_PORT,
    host: config.API_HOST,
    management: managementListenerOf(config),
    tls: tlsFilesOf(config),
    consumer: { groupId: options.groupId ?? config.FOLLOWUP_CONSUMER_GROUP },
  });
}
