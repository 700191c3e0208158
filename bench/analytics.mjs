// npm run bench:analytics -- [--port-base 24000]
// Builds, then runs bench/analytics-bench.ts from dist (DATABASE_URL and
// KAFKA_BROKERS as for the services: npm run infra:up). The service listens on port base + 1,
// the bench's token keys on port base + 2.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const run = (command, args) => {
  const { status } = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (status !== 0) process.exit(status ?? 1);
};
run('npx', ['tsc', '-p', 'tsconfig.build.json']);
run(process.execPath, [
  '-r',
  './infra/lib/register-paths.cjs',
  'dist/bench/analytics-bench.js',
  ...process.argv.slice(2),
]);
