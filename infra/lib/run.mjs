// Process helpers shared by infra/bin/test.mjs and infra/bin/start.mjs (node built-ins only).
import { spawn } from 'node:child_process';
import readline from 'node:readline';

import { ROOT } from './infra.mjs';

export function section(title) {
  const line = '='.repeat(Math.max(8, 78 - title.length));
  console.log(`\n== ${title} ${line}`);
}

export const elapsed = (since) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

/**
 * Runs a command with inherited stdio; resolves to its exit code (signals map to 128 + n).
 * Returns { child, done } so that callers can forward signals.
 */
export function runInherit(cmd, args, { env = process.env, cwd = ROOT } = {}) {
  const child = spawn(cmd, args, { cwd, env, stdio: 'inherit' });
  const done = new Promise((resolve) => {
    child.once('error', (err) => {
      console.error(`could not run ${cmd}: ${err.message}`);
      resolve(127);
    });
    child.once('exit', (code, signal) => {
      resolve(code ?? 128 + (signal === 'SIGINT' ? 2 : signal === 'SIGKILL' ? 9 : 15));
    });
  });
  return { child, done };
}

/** Spawns a long-running process whose output lines are prefixed with `[name]`. */
export function spawnPrefixed(name, cmd, args, { env = process.env, cwd = ROOT } = {}) {
  const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = `[${name}] `;
  readline.createInterface({ input: child.stdout }).on('line', (l) => console.log(prefix + l));
  readline.createInterface({ input: child.stderr }).on('line', (l) => console.error(prefix + l));
  return child;
}

export const npmCommand = process.platform === 'win32' ? 'npm.cmd' : 'npm';
export const npxCommand = process.platform === 'win32' ? 'npx.cmd' : 'npx';
