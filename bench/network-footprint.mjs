#!/usr/bin/env node
// Network footprint benchmark (printed, not asserted):
//   - time to ready from cached jars: a Kafka broker of its own (from .carerelay/kafka/libs, on
//     --kafka-port with its data in .carerelay/bench/kafka: the shared broker is not touched)
//     plus the same startNetwork() as `npm start` (PostgreSQL as found, build if dist/ is stale,
//     every app waited on at /health/ready, demo seed), phase by phase and app by app. The
//     network is started --starts times (default 2): the first may register the demo clients
//     and create the topics, the next ones reuse them — what a user sees on every later start;
//   - whole-network resident memory (apps + Kafka + PostgreSQL) sampled every 2 s while the
//     simulator sends --rate referrals per second (default 50) for --duration seconds (default
//     60); the simulator and CBO bots (the load) are reported apart.
//
//   - the whole network's CPU, app by app, first over --idle seconds with nothing sent (the
//     baseline: pollers, consumers, health checks), then while the simulator sends (the same
//     window as the memory); in % of one core, the load (simulator and bots) apart.
//
//   npm run bench:footprint [-- --rate 50 --duration 60 --idle 30 --starts 2 --port-base 28080
//                              --kafka-port 29092 --fresh --build | --no-build]
//   npm run bench:footprint -- --rate 2 --duration 300 --starts 1   (the demo's default rate)
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { STATE_DIR } from '../infra/lib/infra.mjs';
import { startNetwork, startPrivateKafka, summaryLine } from '../infra/lib/network.mjs';
import { NETWORK_TOOLS } from '../infra/lib/network/apps.mjs';
import { ensureInfra, infraStatus } from '../infra/lib/infra.mjs';
import pg from 'pg';
import {
  cpuSecondsOf,
  mib,
  postgresPid,
  postgresPss,
  postgresRss,
  pssOf,
  rssOf,
} from '../infra/bin/status.mjs';

const { values: opts } = parseArgs({
  options: {
    rate: { type: 'string', default: '50' },
    duration: { type: 'string', default: '60' },
    idle: { type: 'string', default: '30' },
    starts: { type: 'string', default: '2' },
    'port-base': { type: 'string', default: '28080' },
    'kafka-port': { type: 'string', default: '29092' },
    database: { type: 'string', default: 'carerelay_bench' },
    fresh: { type: 'boolean', default: false },
    build: { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
  },
});
/** Started with the network, standing for the hospitals' systems: not the platform's. */
const STAND_INS = new Set(NETWORK_TOOLS);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const secs = (ms) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);
const say = (line) => process.stderr.write(`[bench] ${line}\n`);
const stateDir = path.join(STATE_DIR, 'bench');

/** The last line of the seed's log that says how many demo clients were registered or reused. */
function seedClients() {
  try {
    const lines = fs.readFileSync(path.join(stateDir, 'logs', 'seed.log'), 'utf8').split('\n');
    return lines.filter((l) => l.startsWith('demo clients:')).at(-1) ?? '-';
  } catch {
    return '-';
  }
}

/**
 * --fresh: the benchmark's database dropped (its saved clients, in stateDir, are removed before
 * the broker starts) as well as the broker's data. Otherwise the referrals a run leaves open
 * are worked by the next run's CBO bots (their safety-net search finds them) beside its own.
 */
async function dropBenchState() {
  const { DATABASE_URL } = await ensureInfra({
    database: opts.database,
    owner: `bench:${process.pid}`,
  });
  const admin = new URL(DATABASE_URL);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(
      `DROP DATABASE IF EXISTS ${client.escapeIdentifier(opts.database)} WITH (FORCE)`,
    );
  } finally {
    await client.end();
  }
  say(`fresh       database ${opts.database} dropped, saved clients forgotten`);
}

async function startOnce(n) {
  const started = Date.now();
  if (opts.fresh && n === 1) fs.rmSync(stateDir, { recursive: true, force: true });
  const kafka = await startPrivateKafka({
    dir: path.join(stateDir, 'kafka'),
    port: Number(opts['kafka-port']),
    fresh: opts.fresh && n === 1,
    log: say,
  });
  process.env.KAFKA_BROKERS = kafka.brokers;
  if (opts.fresh && n === 1) await dropBenchState();
  const build = opts['no-build'] || n > 1 ? false : opts.build ? true : 'auto';
  let network;
  try {
    network = await startNetwork({
      owner: `bench:${process.pid}`,
      portBase: Number(opts['port-base']),
      stateDir,
      database: opts.database,
      build,
      quiet: true,
      log: (line) => say(line),
      step: (name) => say(`-- ${name}`),
    });
  } catch (error) {
    await kafka.stop();
    throw error;
  }
  const readyMs = Date.now() - started;
  const buildMs =
    network.timings.build !== undefined ? network.timings.build - (network.timings.infra ?? 0) : 0;
  return {
    n,
    kafka,
    network,
    readyMs,
    buildMs,
    withoutBuildMs: readyMs - buildMs,
    timings: { ...network.timings },
    apps: network.processes.map((p) => [p.name, p.readyMs, p.status]),
    clients: seedClients(),
    problems: [...network.problems],
  };
}

async function main() {
  const starts = Math.max(1, Number(opts.starts));
  const runs = [];
  for (let n = 1; n <= starts; n += 1) {
    say(`== start ${n} of ${starts}`);
    const run = await startOnce(n);
    runs.push(run);
    say(`network ready in ${secs(run.readyMs)} (start ${n})`);
    if (n < starts) {
      const stopping = Date.now();
      await run.network.stop({ stopInfrastructure: false });
      run.stopMs = Date.now() - stopping;
      await run.kafka.stop();
    }
  }
  const last = runs.at(-1);
  const { network, kafka } = last;
  const infra = await infraStatus();
  const pPid = postgresPid(infra);

  // CPU seconds of every part of the network at one moment, to compare two moments.
  const cpuNow = (load) => ({
    at: performance.now(),
    apps: Object.fromEntries(network.processes.map((p) => [p.name, cpuSecondsOf(p.pid) ?? 0])),
    kafka: cpuSecondsOf(kafka.pid) ?? 0,
    postgres: pPid ? (cpuSecondsOf(pPid, { children: true }) ?? 0) : 0,
    load: load ? (cpuSecondsOf(load.pid, { children: true }) ?? 0) : 0,
  });
  say(`idle for ${opts.idle} s (the CPU baseline)`);
  const idleFrom = cpuNow();
  await sleep(Number(opts.idle) * 1000);
  const idleTo = cpuNow();

  const rate = Number(opts.rate);
  const sim = network.startSimulator({ rate, args: ['--max-in-flight', '64'] });
  const loadFrom = cpuNow(sim);
  const platformProcesses = () => network.processes.filter((p) => !STAND_INS.has(p.app));
  const samples = [];
  const until = Date.now() + Number(opts.duration) * 1000;
  while (Date.now() < until) {
    await sleep(2000);
    const apps = network.processes.reduce((sum, p) => sum + (rssOf(p.pid) ?? 0), 0);
    const kafkaRss = rssOf(kafka.pid) ?? 0;
    const postgres = pPid ? postgresRss(pPid) : 0;
    const load = rssOf(sim.pid) ?? 0;
    // The platform alone, in proportional memory: the stand-in EHRs are the hospitals' systems,
    // and a page shared by several processes counts once (pssOf). NaN when one is not readable.
    const platformPss =
      platformProcesses().reduce((sum, p) => sum + (pssOf(p.pid) ?? NaN), 0) +
      (pssOf(kafka.pid) ?? NaN) +
      (pPid ? (postgresPss(pPid) ?? NaN) : 0);
    samples.push({
      apps,
      kafka: kafkaRss,
      postgres,
      total: apps + kafkaRss + postgres,
      load,
      platformPss,
    });
  }
  const loadTo = cpuNow(sim);
  const counts = { ...network.summary?.counts };
  const stats = sim.stats?.simulator;
  const perProcess = network.processes.map((p) => [p.name, rssOf(p.pid)]);
  await network.stop({ stopInfrastructure: false });
  await kafka.stop();

  const peak = (key) => Math.max(...samples.map((s) => s[key]));
  const mean = (key) => samples.reduce((sum, s) => sum + s[key], 0) / samples.length;
  const line = (label, value) => console.log(`${label.padEnd(36)} ${value}`);
  console.log('\n== network footprint ==');
  console.log(
    `PostgreSQL: ${infra.postgres.mode} (${infra.postgres.mode === 'embedded' && infra.postgres.startedByUs ? 'started by CareRelay' : 'already running: its start is not included'})`,
  );
  for (const run of runs) {
    console.log(`-- start ${run.n} (${run.clients})`);
    line(
      '  time to ready',
      `${secs(run.readyMs)}${run.buildMs ? ` (of which build ${secs(run.buildMs)}; without it ${secs(run.withoutBuildMs)})` : ' (no build: dist/ fresh)'}`,
    );
    line('  Kafka from cached jars', secs(run.kafka.startMs));
    let previous = 0;
    for (const [phase, ms] of Object.entries(run.timings)) {
      line(`  ${phase}`, `at ${secs(ms)} (+${secs(ms - previous)})`);
      previous = ms;
    }
    line(
      '  apps ready after launch',
      run.apps
        .map(([name, ms, status]) => `${name} ${status === 'ready' ? secs(ms) : status}`)
        .join(', '),
    );
    if (run.stopMs !== undefined) line('  apps stopped in', secs(run.stopMs));
    for (const problem of run.problems) line('  problem', problem);
  }
  line('rate asked / duration', `${rate} referrals/s for ${opts.duration} s`);
  line(
    'sent / failed / skipped (in flight)',
    `${stats?.sent ?? '?'} / ${stats?.failed ?? '?'} / ${stats?.skipped ?? '?'}  (EHR transaction p50 ${stats?.p50Ms} ms, p99 ${stats?.p99Ms} ms)`,
  );
  line(
    'achieved send rate',
    `${((stats?.sent ?? 0) / Number(opts.duration)).toFixed(1)} referrals/s`,
  );
  line('referral events', summaryLine(counts, stats));
  line('whole network RSS, peak', `${mib(peak('total'))} (apps + Kafka + PostgreSQL; limit 3 GiB)`);
  line('whole network RSS, mean', mib(mean('total')));
  line('  apps peak', mib(peak('apps')));
  line('  Kafka peak', mib(peak('kafka')));
  line('  PostgreSQL peak', `${mib(peak('postgres'))} (whole server: other users' backends too)`);
  line(
    'platform alone, proportional, mean',
    Number.isFinite(mean('platformPss'))
      ? `${mib(mean('platformPss'))} (peak ${mib(peak('platformPss'))}; PSS, without the stand-in EHRs)`
      : '- (smaps_rollup not readable)',
  );
  line('simulator + CBO bots (load) peak', mib(peak('load')));
  console.log('per process at the end:');
  for (const [name, rss] of perProcess) console.log(`  ${name.padEnd(30)} ${mib(rss)}`);

  const share = (from, to, pick) => (100 * (pick(to) - pick(from))) / ((to.at - from.at) / 1000);
  const pct = (v) => `${v.toFixed(1)} %`.padStart(8);
  const appsOf = (c) => Object.values(c.apps).reduce((sum, v) => sum + v, 0);
  const wholeOf = (c) => appsOf(c) + c.kafka + c.postgres;
  const standInsOf = (c) =>
    network.processes
      .filter((p) => STAND_INS.has(p.app))
      .reduce((sum, p) => sum + (c.apps[p.name] ?? 0), 0);
  const both = (pick) =>
    `${pct(share(idleFrom, idleTo, pick))} ${pct(share(loadFrom, loadTo, pick))}`;
  console.log(
    `\nCPU, % of one core: idle ${opts.idle} s (nothing sent) | ${rate} referrals/s for ${opts.duration} s`,
  );
  line('whole network (apps, Kafka, PostgreSQL)', both(wholeOf));
  line(
    'platform alone (without the stand-in EHRs)',
    both((c) => wholeOf(c) - standInsOf(c)),
  );
  line('  apps', both(appsOf));
  line(
    '  Kafka',
    both((c) => c.kafka),
  );
  line(
    '  PostgreSQL (whole server)',
    both((c) => c.postgres),
  );
  line(
    'simulator + CBO bots (load)',
    `${''.padStart(8)} ${pct(share(loadFrom, loadTo, (c) => c.load))}`,
  );
  for (const name of Object.keys(loadTo.apps))
    line(
      `  ${name}`,
      both((c) => c.apps[name] ?? 0),
    );
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(`bench failed: ${error.stack ?? error.message}`);
    process.exit(1);
  },
);
