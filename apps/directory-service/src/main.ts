import 'reflect-metadata';
import { loadConfigOrExit } from '@carerelay/config';
import { createServiceLogger } from '@carerelay/observability';
import { startDirectoryService } from './bootstrap';
import { DirectoryServiceConfig } from './directory-service.config';

async function main(): Promise<void> {
  const config = loadConfigOrExit(DirectoryServiceConfig);
  const app = await startDirectoryService(config);
  createServiceLogger('directory-service', config.LOG_LEVEL).info(
    { url: await app.getUrl() },
    'listening',
  );
}

main().catch((error: unknown) => {
  createServiceLogger('directory-service').fatal({ err: error }, 'failed to start');
  process.exit(1);
});
