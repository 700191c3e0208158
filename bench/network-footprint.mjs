#!/usr/bin/env node
// Network footprint benchmark (printed, not asserted):
//   - time to ready: the same startNetwork() as `npm start` (dependencies check, Kafka and
//     PostgreSQL found or started from cached jars, build unless --no-build, every app waited on
//     /health/ready, demo seed), phase by phase;
//   - whole-network resident memory (apps + Kafka + PostgreSQL) sampled every 2 s while the
//     simulator sends --rate referrals per second (default 50) for --duration seconds (default 60);
//     the simulator and CBO bots (the load) are reported apart.
//
//   npm run bench:footprint [-- --rate 50 --duration 60 --no-build --port-base 28080]
import path from 'node:path';
import { parseArgs } from 'node:util';

import { STATE_DIR } from '../infra/lib/infra.mjs';
import { startNetwork, summaryLine } from '../infra/lib/network.mjs';
import { infraStatus } from '../infra/lib/infra.mjs';
import { kafkaPid, mib, postgresPid, postgresRss, rssOf } from '../infra/bin/status.mjs';

const { values: opts } = parseArgs({
  options: {
    rate: { type: 'string', default: '50' },
    duration: { type: 'string', default: '60' },
    'no-build': { type: 'boolean', default: false },
    'port-base': { type: 'string', default: '28080' },
  },
});
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;

async function main() {
  const before = await infraStatus();
  const kafkaWasRunning = before.kafka.answering;
  const t0 = Date.now();
  const network = await startNetwork({
    owner: `bench:${process.pid}`,
    portBase: Number(opts['port-base']),
    stateDir: path.join(STATE_DIR, 'bench'),
    build: !opts['no-build'],
    quiet: true,
    log: () => undefined,
    step: (name) => process.stderr.write(`[bench] ${name}\n`),
  });
  const readyMs = Date.now() - t0;
  const infra = await infraStatus();
  const kPid = kafkaPid(infra);
  const pPid = postgresPid(infra);

  const rate = Number(opts.rate);
  const sim = network.startSimulator({ rate, args: ['--max-in-flight', '64'] });
  const samples = [];
  const until = Date.now() + Number(opts.duration) * 1000;
  while (Date.now() < until) {
    await sleep(2000);
    const apps = network.processes.reduce((sum, p) => sum + (rssOf(p.pid) ?? 0), 0);
    const kafka = kPid ? (rssOf(kPid) ?? 0) : 0;
    const postgres = pPid ? postgresRss(pPid) : 0;
    const load = rssOf(sim.pid) ?? 0;
    samples.push({ apps, kafka, postgres, total: apps + kafka + postgres, load });
  }
  const counts = { ...network.summary?.counts };
  const stats = sim.stats?.simulator;
  const perProcess = network.processes.map((p) => [p.name, rssOf(p.pid)]);
  await network.stop();

  const peak = (key) => Math.max(...samples.map((s) => s[key]));
  const mean = (key) => samples.reduce((sum, s) => sum + s[key], 0) / samples.length;
  const line = (label, value) => console.log(`${label.padEnd(34)} ${value}`);
  console.log('\n== network footprint ==');
  line(
    'time to ready',
    `${secs(readyMs)} (Kafka ${kafkaWasRunning ? 'already running: its start is not included' : 'started from cached jars'})`,
  );
  for (const [phase, ms] of Object.entries(network.timings)) line(`  ${phase} at`, secs(ms));
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
  line('simulator + CBO bots (load) peak', mib(peak('load')));
  console.log('per process at the end:');
  for (const [name, rss] of perProcess) console.log(`  ${name.padEnd(30)} ${mib(rss)}`);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(`bench failed: ${error.stack ?? error.message}`);
    process.exit(1);
  },
);
