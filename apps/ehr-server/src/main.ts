import { startEhrServer } from './ehr-server';

/** `EHR_SERVER_PORT` (default 8090), `EHR_SERVER_HOST` (default 127.0.0.1). No auth: test server. */
async function main(): Promise<void> {
  const raw = process.env.EHR_SERVER_PORT ?? '8090';
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`EHR_SERVER_PORT (got ${JSON.stringify(raw)}): must be a port number\n`);
    process.exit(78);
  }
  const server = await startEhrServer({ port, host: process.env.EHR_SERVER_HOST ?? '127.0.0.1' });
  console.log(`ehr-server (stand-in EHR, no auth) listening: ${server.baseUrl}`);
  const shutdown = () => void server.close().then(() => process.exit(0));
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
  console.error('ehr-server failed to start:', error);
  process.exit(1);
});
