import 'reflect-metadata';
import { ConfigError, loadConfigOrExit } from '@carerelay/config';
import { createServiceLogger } from '@carerelay/observability';
import { startWebApp } from './bootstrap';
import { WebConfig } from './web.config';

async function main(): Promise<void> {
  const config = loadConfigOrExit(WebConfig);
  const app = await startWebApp(config);
  createServiceLogger('web', config.LOG_LEVEL).info({ url: await app.getUrl() }, 'listening');
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(78);
  }
  createServiceLogger('web').fatal({ err: error }, 'failed to start');
  process.exit(1);
});
