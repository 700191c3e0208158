import 'reflect-metadata';
import { loadConfigOrExit } from '@carerelay/config';
import { startFollowupService } from './bootstrap';
import { FollowupServiceConfig } from './followup-service.config';

async function main(): Promise<void> {
  const config = loadConfigOrExit(FollowupServiceConfig);
  const app = await startFollowupService(config);
  console.log(`followup-service listening on ${await app.getUrl()}`);
}

main().catch((error: unknown) => {
  console.error('followup-service failed to start:', error);
  process.exit(1);
});
