import 'reflect-metadata';
import { loadConfigOrExit } from '@carerelay/config';
import { startReferralService } from './bootstrap';
import { ReferralServiceConfig } from './referral-service.config';

async function main(): Promise<void> {
  const config = loadConfigOrExit(ReferralServiceConfig);
  const app = await startReferralService(config);
  console.log(`referral-service listening on ${await app.getUrl()}`);
}

main().catch((error: unknown) => {
  console.error('referral-service failed to start:', error);
  process.exit(1);
});
