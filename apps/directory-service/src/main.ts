import 'reflect-metadata';
import { loadConfigOrExit } from '@carerelay/config';
import { startDirectoryService } from './bootstrap';
import { DirectoryServiceConfig } from './directory-service.config';

async function main(): Promise<void> {
  const config = loadConfigOrExit(DirectoryServiceConfig);
  const app = await startDirectoryService(config);
  console.log(`directory-service listening on ${await app.getUrl()}`);
}

main().catch((error: unknown) => {
  console.error('directory-service failed to start:', error);
  process.exit(1);
});
