import 'reflect-metadata';
import { loadConfigOrExit } from '@carerelay/config';
import { createServiceLogger } from '@carerelay/observability';
import { AnalyticsServiceConfig } from './analytics-service.config';
import { startAnalyticsService } from './bootstrap';

async function main(): Promise<void> {
  const config = loadConfigOrExit(AnalyticsServiceConfig);
  const app = await startAnalyticsService(config);
  createServiceLogger('analytics-service', config.LOG_LEVEL).info(
    { url: await app.getUrl() },
    'listening',
  );
}

main().catch((error: unknown) => {
  createServiceLogger('analytics-service').fatal({ err: error }, 'failed to start');
  process.exit(1);
});
