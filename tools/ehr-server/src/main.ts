import pino from 'pino';
import { startEhrServer } from './ehr-server';

// JSON lines like the services' (libs/observability is not loaded here: this stand-in stays small).
const logger = pino({
  base: {
    service: 'ehr-server',
    organization: process.env.EHR_SERVER_ORGANIZATION_ID,
    pid: process.pid,
  },
  level: process.env.LOG_LEVEL ?? 'info',
  timestamp: pino.stdTimeFunctions.isoTime,
});

/** `EHR_SERVER_PORT` (default 8090), `EHR_SERVER_HOST` (default 127.0.0.1). No auth: test server. */
async function main(): Promise<void> {
  const raw = process.env.EHR_SERVER_PORT ?? '8090';
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`EHR_SERVER_PORT (got ${JSON.stringify(raw)}): must be a port number\n`);
    process.exit(78);
  }
  const server = await startEhrServer({ port, host: process.env.EHR_SERVER_HOST ?? '127.0.0.1' });
  logger.info({ url: server.baseUrl }, 'listening (stand-in EHR, no auth)');
  const shutdown = () => void server.close().then(() => process.exit(0));
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
  logger.fatal({ err: error }, 'failed to start');
  process.exit(1);
});
