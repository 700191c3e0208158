#!/usr/bin/env node
// `npm start`: dependencies -> Kafka + PostgreSQL -> build -> every app in dist/apps -> wait for
// Ctrl-C -> stop the apps, then stop the infrastructure this process started.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { ensureDependencies, ensureInfra, ROOT, stopInfra } from '../lib/infra.mjs';
import { npmCommand, runInherit, section, spawnPrefixed } from '../lib/run.mjs';

/** Apps that are command-line tools, not long-running services: never started by npm start. */
export const NOT_SERVICES = new Set(['cli']);

/**
 * The apps `npm start` runs: every built dist/apps/<name>/src/main.js but NOT_SERVICES, in name
 * order. Extend here (order, per-app env such as PORT) when the apps need it.
 * @returns {Array<{ name: string, entry: string, env: Record<string, string> }>}
 */
export function appsToStart() {
  const appsDir = path.join(ROOT, 'dist', 'apps');
  if (!fs.existsSync(appsDir)) return [];
  return fs
    .readdirSync(appsDir)
    .filter((name) => !NOT_SERVICES.has(name))
    .sort()
    .map((name) => ({
      name,
      entry: path.join('dist', 'apps', name, 'src', 'main.js'),
      env: {},
    }))
    .filter((app) => fs.existsSync(path.join(ROOT, app.entry)));
}

/** node -r ./infra/lib/register-paths.cjs dist/apps/<name>/src/main.js */
export function startApp(app, infraEnv) {
  const args = ['-r', './infra/lib/register-paths.cjs', app.entry];
  const child = spawnPrefixed(app.name, process.execPath, args, {
    env: { ...process.env, ...infraEnv, ...app.env },
  });
  return { ...app, child, exited: new Promise((resolve) => child.once('exit', resolve)) };
}

async function stopApp(app, timeoutMs = 10_000) {
  if (app.child.exitCode !== null || app.child.signalCode !== null) return;
  app.child.kill('SIGTERM');
  const timer = setTimeout(() => app.child.kill('SIGKILL'), timeoutMs);
  await app.exited;
  clearTimeout(timer);
}

async function main() {
  const owner = `npm-start:${process.pid}`;
  const running = [];
  let stopping = false;

  const shutdown = async (reason, code) => {
    if (stopping) return;
    stopping = true;
    section(`stopping (${reason})`);
    await Promise.all(running.map((app) => stopApp(app)));
    await stopInfra({ onlyIfStartedBy: owner });
    process.exit(code);
  };
  process.on('SIGINT', () => shutdown('Ctrl-C', 0));
  process.on('SIGTERM', () => shutdown('SIGTERM', 0));

  section('dependencies');
  await ensureDependencies();
  section('infrastructure (Kafka, PostgreSQL)');
  const infraEnv = await ensureInfra({ owner });

  section('build');
  const build = await runInherit(npmCommand, ['run', 'build']).done;
  if (build !== 0) return shutdown(`build failed with exit code ${build}`, build);

  section('apps');
  for (const app of appsToStart()) {
    const started = startApp(app, infraEnv);
    running.push(started);
    started.exited.then((code) => {
      if (!stopping) shutdown(`${app.name} exited with code ${code}`, code || 1);
    });
  }

  section('running');
  console.log(`Kafka       KAFKA_BROKERS=${infraEnv.KAFKA_BROKERS}`);
  console.log(`PostgreSQL  DATABASE_URL=${infraEnv.DATABASE_URL}`);
  for (const app of running) console.log(`app         ${app.name} (pid ${app.child.pid})`);
  if (running.length === 0) console.log('apps        none built yet (dist/apps/*/src/main.js)');
  console.log('\nCtrl-C stops the apps and the infrastructure this command started.');
  setInterval(() => undefined, 1 << 30); // keep running until a signal arrives
}

if (process.argv[1] && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url) {
  main().catch(async (err) => {
    console.error(`npm start failed: ${err.message}`);
    await stopInfra({ onlyIfStartedBy: `npm-start:${process.pid}` }).catch(() => undefined);
    process.exit(1);
  });
}
