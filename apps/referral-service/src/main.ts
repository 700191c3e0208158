import 'reflect-metadata';
import { loadConfigOrExit } from '@carerelay/config';
import { createServiceLogger } from '@carerelay/observability';
import { startReferralService } from './bootstrap';
import { ReferralServiceConfig } from './referral-service.config';

async function main(): Promise<void> {
  const config = loadConfigOrExit(ReferralServiceConfig);
  const app = await startReferralService(config);
  createServiceLogger('referral-service', config.LOG_LEVEL).info(
    { url: await app.getUrl() },
    'listening',
  );
}

main().catch((error: unknown) => {
  createServiceLogger('referral-service').fatal({ err: error }, 'failed to start');
  process.exit(1);
});
