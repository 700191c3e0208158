import 'reflect-metadata';
import { loadConfigOrExit } from '@carerelay/config';
import { createServiceLogger } from '@carerelay/observability';
import { startFollowupService } from './bootstrap';
import { FollowupServiceConfig } from './followup-service.config';

async function main(): Promise<void> {
  const config = loadConfigOrExit(FollowupServiceConfig);
  const app = await startFollowupService(config);
  createServiceLogger('followup-service', config.LOG_LEVEL).info(
    { url: await app.getUrl() },
    'listening',
  );
}

main().catch((error: unknown) => {
  createServiceLogger('followup-service').fatal({ err: error }, 'failed to start');
  process.exit(1);
});
