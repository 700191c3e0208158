import type { INestApplication } from '@nestjs/common';
import { managementListenerOf, tlsFilesOf } from '@carerelay/config';
import { TOPICS } from '@carerelay/contracts';
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
    // Timers are minutes to days long: a referral event may wait up to a second for others, and the
    // events of all partitions that came together are planned in one transaction (each referral's
    // track is locked by its own events only: they share a partition).
    consumer: {
      groupId: options.groupId ?? config.FOLLOWUP_CONSUMER_GROUP,
      batch: { maxMessages: 500, acrossPartitions: true, gatherMs: 1000 },
      partitionsConsumedConcurrently: TOPICS.referralEvents.partitions,
    },
  });
}
