#!/usr/bin/env node
// npm run cli -- <command> [options]
// Each feature owns its commands (apps/<app>/src/<feature>/commands/<feature>.main.ts); this only
// picks the owner by the command's prefix and runs its compiled main (dist/), so that no app
// imports another to offer one command line.
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
require('../lib/register-paths.cjs');

/** Command prefix -> the feature's compiled command module. */
export const COMMANDS = {
  clients: 'apps/fhir-api/src/auth/commands/clients.main.js',
  ehr: 'apps/ehr-connector/src/registry/commands/ehr.main.js',
  analytics: 'apps/analytics-service/src/rebuild/commands/analytics.main.js',
};

const load = (module) => require(path.join(ROOT, process.env.CARERELAY_DIST_DIR || 'dist', module));

async function run(argv) {
  const [command] = argv;
  const owner = command?.includes(':') ? COMMANDS[command.split(':')[0]] : undefined;
  if (owner) return load(owner).main(argv);
  const usage = Object.values(COMMANDS)
    .map((module) => load(module).USAGE.trimEnd())
    .join('\n\n');
  if (command === undefined || ['help', '--help', '-h'].includes(command)) {
    process.stdout.write(`${usage}\n`);
    return command === undefined ? 64 : 0;
  }
  process.stderr.write(`unknown command ${command}\n\n${usage}\n`);
  return 64;
}

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : error}\n`);
    process.exitCode = 1;
  },
);
