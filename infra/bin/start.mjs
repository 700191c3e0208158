#!/usr/bin/env node
// `npm start`: the whole CareRelay network with a live demo (see infra/lib/network.mjs):
// dependencies -> Kafka + PostgreSQL -> build -> every app as its own process, waited on ->
// platform client and demo network -> referral simulator + CBO bots -> a live one-line summary.
// Ctrl-C stops everything this command started.
//
//   npm start [-- --no-simulator] [--rate <referrals/s>] [--port-base <n>] [--quiet] [--verbose]
//             [--no-build | --build] [--instances 2]
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

import { ROOT } from '../lib/infra.mjs';
import { startNetwork, summaryLine } from '../lib/network.mjs';
import { section } from '../lib/run.mjs';

const USAGE = `usage: npm start [-- options]
  --no-simulator       start the network without the referral simulator and CBO bots
  --rate <n>           simulated referrals per second (default 2)
  --reject-share <p>   share of referrals a CBO bot rejects (default 0.1)
  --port-base <n>      first port (default 8080 or CARERELAY_PORT_BASE): fhir-api <n>, ...
  --quiet              app logs only to .carerelay/demo/logs/<app>.log, not the terminal
  --verbose            the terminal shows every HTTP request and handled event too (the log
                       files always have them)
  --no-build           skip npm run build (use dist/ as it is)
  --build              run npm run build even when dist/ is newer than every source
  --summary-every <s>  seconds between summary lines (default 5)
  --instances <n>      instances of every service (default 1); the second runs as a second
                       machine would: <app>-2 at its ports + 200, sharing the database and the
                       consumer groups`;

function options(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      'no-simulator': { type: 'boolean', default: false },
      rate: { type: 'string', default: '2' },
      'reject-share': { type: 'string' },
      'port-base': { type: 'string', default: process.env.CARERELAY_PORT_BASE || '8080' },
      quiet: { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      build: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      'summary-every': { type: 'string', default: '5' },
      instances: { type: 'string', default: '1' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  return values;
}

const rel = (p) => path.relative(ROOT, p) || '.';

function printWelcome(network, opts) {
  section('CareRelay is running');
  const line = (label, value) => console.log(`${label.padEnd(22)} ${value}`);
  line(
    'FHIR API (EHRs, CBOs)',
    `${network.fhirBaseUrl}  (metadata: ${network.fhirBaseUrl}/metadata)`,
  );
  line('SMART token endpoint', `${network.fhirBaseUrl}/auth/token  (private_key_jwt, ES384/RS384)`);
  const web = network.processes.find((p) => p.app === 'web' && p.status === 'ready');
  if (web) {
    line('Web app (people)', `${web.url}/  (case managers, CBO admins, coordinators)`);
    console.log(
      `${''.padEnd(22)} demo people (password CareRelay-demo-2026): cm.kenwood, admin.kenwood, cm.streeterville, admin.streeterville, coordinator`,
    );
  }
  for (const p of network.processes) {
    if (p.app === 'fhir-api') continue;
    const what = p.hospital ? `stand-in EHR FHIR server of ${p.hospital}: ${p.url}/fhir` : p.url;
    line(
      p.name,
      `${what}  [${p.status}${p.health && p.health !== 'ready' ? `, ${p.health}` : ''}]`,
    );
  }
  for (const p of network.processes) {
    // The stand-in EHR servers are plain FHIR servers, without health or metrics.
    if (p.status === 'ready' && p.app !== 'ehr-server')
      console.log(
        `  ${p.name.padEnd(18)} health ${p.managementUrl ?? p.url}/health/ready   metrics ${p.managementUrl ?? p.url}/metrics`,
      );
  }
  console.log('');
  if (network.clients) {
    const clients = network.clients;
    const show = [
      ...clients.filter((c) => c.role !== 'cbo'),
      ...clients.filter((c) => c.role === 'cbo').slice(0, 5),
    ];
    console.log('Demo credentials (SMART Backend Services clients; private keys in the file):');
    for (const c of show) {
      console.log(`  ${c.role.padEnd(12)} ${c.clientId}  ${c.organizationId.padEnd(20)} ${c.name}`);
    }
    const more = clients.filter((c) => c.role === 'cbo').length - 5;
    if (more > 0) console.log(`  ... and ${more} more CBOs`);
    console.log(`  platform     ${network.platform.clientId}  ${network.platform.organizationId}`);
    console.log(`  keys and client ids: ${rel(path.join(network.stateDir, 'clients.json'))}`);
  }
  console.log(
    `Logs: ${rel(path.join(network.stateDir, 'logs'))}/<app>.log   Status: npm run status`,
  );
  if (network.authMode === 'dev') {
    console.log('!! The FHIR API runs without SMART auth (FHIR_AUTH_DISABLED=true, X-Dev-Actor).');
  }
  if (network.problems.length > 0) {
    console.log('\nProblems:');
    for (const problem of network.problems) console.log(`  !! ${problem}`);
  }
  console.log(
    opts['no-simulator']
      ? '\nNo simulator (--no-simulator). Ctrl-C stops everything.'
      : `\nSimulator: ${opts.rate} referrals/s. Ctrl-C stops everything.`,
  );
}

async function main() {
  const opts = options(process.argv.slice(2));
  if (opts.help) {
    console.log(USAGE);
    return;
  }
  const owner = `npm-start:${process.pid}`;
  let network;
  let shuttingDown = false;
  const shutdown = async (reason, code) => {
    if (shuttingDown) return;
    shuttingDown = true;
    section(`stopping (${reason})`);
    const stopped = (await network?.stop()) ?? [];
    for (const { what, pid, result } of stopped) console.log(`${what} (pid ${pid}): ${result}`);
    console.log('stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown('Ctrl-C', 0));
  process.on('SIGTERM', () => void shutdown('SIGTERM', 0));

  const instances = Number(opts.instances);
  if (!Number.isInteger(instances) || instances < 1 || instances > 4) {
    console.error(`--instances ${opts.instances}: a whole number from 1 to 4`);
    process.exit(2);
  }
  const t0 = Date.now();
  network = await startNetwork({
    owner,
    portBase: Number(opts['port-base']),
    instances,
    build: opts['no-build'] ? false : opts.build ? true : 'auto',
    quiet: opts.quiet,
    verbose: opts.verbose,
    step: (name) => section(name),
  });
  console.log(`\nnetwork ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  printWelcome(network, opts);

  if (!opts['no-simulator']) {
    const args = opts['reject-share'] ? ['--reject-share', opts['reject-share']] : [];
    // The demo's planted disparities (apps/simulator/src/disparities.ts); SIMULATOR_DISPARITIES=off to drop them.
    process.env.SIMULATOR_DISPARITIES ??= 'on';
    const sim = network.startSimulator({ rate: Number(opts.rate), args });
    sim.exited.then((code) => {
      if (!shuttingDown) console.log(`!! simulator exited (${code}); the network keeps running`);
    });
  }
  const every = Math.max(1, Number(opts['summary-every'])) * 1000;
  setInterval(() => {
    if (!network.summary || shuttingDown) return;
    const down = network.processes.filter((p) => p.status !== 'ready').map((p) => p.name);
    const sim = network.simulator?.stats?.simulator;
    const bots = network.simulator?.stats?.bots;
    const time = new Date().toTimeString().slice(0, 8);
    let text = `[summary] ${time} ${summaryLine(network.summary.counts, sim)}`;
    if (bots?.errors) text += ` | bot errors ${bots.errors}`;
    if (down.length) text += ` | not ready: ${down.join(', ')}`;
    console.log(text);
  }, every);
}

if (process.argv[1] && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url) {
  main().catch((err) => {
    console.error(`\nnpm start failed: ${err.message}`);
    process.exit(1);
  });
}
