#!/usr/bin/env node
// The referral loop benchmark (printed, not asserted): referrals per second end to end and the
// latency of each referral from "EHR Bundle accepted" to "CBO Task visible to the CBO".
//
//   npm run bench:loop [-- --count 10000 --concurrency 16 --port-base 27280 --kafka-port 27392]
//   npm run bench:loop -- --count 1000          (a quick run)
//   npm run bench:loop -- --count 1000 --rate 2 (a fixed arrival rate: latency below saturation)
//   npm run bench:loop -- --count 240 --rate 2 --warmup 60
//                       (60 referrals first, at the same rate, kept out of the figures and printed
//                        apart: the network's first seconds are not its steady state)
//   npm run bench:loop -- --count 1000 --instances 1,2
//                       (scale-out: the same referrals on one instance of every service, then on
//                        two side by side, each on a network of its own; the Bundles alternate
//                        between the FHIR API instances as a load balancer would send them)
//
// The network runs as `npm start` runs it (no simulator) on a private Kafka broker, a fresh
// database, its own ports (test/resilience/harness.mjs). Referrals (transaction Bundles: Patient,
// ServiceRequest for food or housing help, Task owned by the platform, Consent) are posted as the
// two hospitals' EHR clients as fast as the FHIR API accepts them, with at most --concurrency
// Bundles in flight (or at a fixed --rate). As fast as accepted, Bundles arrive faster than the
// referral-service routes them: the latency is then mostly the time spent queued behind the
// backlog, and referrals/s end to end is the routing capacity.
//
// What is measured, per referral:
//   t0 = the FHIR API's HTTP response to the transaction Bundle (the referral is accepted);
//   t1 = the CBO can read its Task: on the referral's `routed` event on referral.events.v1 (which
//        names the CBO Task and its owner), the bench reads that Task with the owning CBO's own
//        SMART client (GET Task/<id>) and t1 is when that read returns 200 (retried while 404/403).
// latency = t1 - t0; referrals/s end to end = referrals visible / (last t1 - first Bundle sent).
// With --warmup N, the first N referrals are sent the same way before the measured ones; their
// latencies are printed apart, and the figures start at the first measured Bundle. Just after
// start the apps' code is not yet optimized by V8, their pools open PostgreSQL connections (a new
// backend loads each table's metadata on first use) and the consumers still work through the demo
// directory's ~400 publications: the first referrals wait behind all of that.
// The accepted Bundles/s and the Bundle's own HTTP latency are printed too, and the machine:
// cores, load average, the CPU shares of this network, of PostgreSQL and of everything else.
import { parseArgs } from 'node:util';

import {
  Limiter,
  cpuShares,
  cpuSnapshot,
  loadDist,
  machine,
  percentile,
  printTable,
  secs,
  sleep,
  startIsolatedNetwork,
  withRetry,
} from '../test/resilience/harness.mjs';

const { values: opts } = parseArgs({
  options: {
    count: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '16' },
    rate: { type: 'string' },
    warmup: { type: 'string', default: '0' },
    'read-concurrency': { type: 'string', default: '16' },
    seed: { type: 'string', default: '7' },
    timeout: { type: 'string', default: '3600' },
    'port-base': { type: 'string', default: '27280' },
    'kafka-port': { type: 'string', default: '27392' },
    build: { type: 'boolean', default: false },
    instances: { type: 'string', default: '1' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opts.help) {
  console.log(
    'usage: npm run bench:loop [-- --count 10000 --concurrency 16 --rate <n/s> --read-concurrency 16\n' +
      '  --warmup 0 --seed 7 --timeout <s> --port-base 27280 --kafka-port 27392 --build\n' +
      '  --instances 1[,2]]',
  );
  process.exit(0);
}

const COUNT = Number(opts.count);
const WARMUP = Number(opts.warmup);
if (!Number.isInteger(WARMUP) || WARMUP < 0) throw new Error(`--warmup ${opts.warmup}: a count`);
const started = Date.now();
const log = (line) => process.stderr.write(`[${secs(Date.now() - started).padStart(7)}] ${line}\n`);
const { fhirClientFor, ReferralGenerator, demoDirectory } = loadDist();

async function main() {
  const counts = opts.instances.split(',').map(Number);
  if (counts.some((n) => !Number.isInteger(n) || n < 1 || n > 4))
    throw new Error(`--instances ${opts.instances}: whole numbers from 1 to 4, comma separated`);
  const results = [];
  for (const instances of counts) {
    const before = machine();
    const env = await startIsolatedNetwork({
      name: 'bench-loop',
      portBase: Number(opts['port-base']),
      kafkaPort: Number(opts['kafka-port']),
      build: opts.build && results.length === 0,
      instances,
      log,
    });
    const onSigint = () => void env.stop().then(() => process.exit(130));
    process.once('SIGINT', onSigint);
    try {
      results.push({ instances, ...(await bench(env, before, instances)) });
    } finally {
      log('stopping the network and the private broker');
      await env.stop();
      process.off('SIGINT', onSigint);
    }
  }
  if (results.length > 1) {
    const base = results[0];
    printTable(
      `scale-out: the same ${COUNT} referrals, ${base.instances} instance(s) of every service as the baseline`,
      results.map((r) => [
        `${r.instances} instance${r.instances > 1 ? 's' : ''} of every service`,
        `${r.perSecond.toFixed(1)} referrals/s end to end (${(r.perSecond / base.perSecond).toFixed(2)} x), ` +
          `${r.visible}/${COUNT} visible, p50 ${Math.round(r.p50)} ms, p99 ${Math.round(r.p99)} ms, CPU busy ${r.busy}`,
      ]),
    );
  }
}

async function bench({ network, kafka }, before, instances) {
  const fhir = (client, baseUrl = network.fhirBaseUrl) =>
    fhirClientFor(client, baseUrl, network.authMode);
  // Each hospital's client against every FHIR API instance; the Bundles alternate between them.
  const fhirApiBases = network.processes
    .filter((p) => p.app === 'fhir-api')
    .map((p) => (p.instance > 1 ? `${p.url}/fhir` : network.fhirBaseUrl));
  const ehrs = new Map(
    network.clients
      .filter((c) => c.role === 'ehr')
      .map((c) => [c.organizationId, fhirApiBases.map((base) => fhir(c, base))]),
  );
  const cbos = new Map(
    network.clients.filter((c) => c.role === 'cbo').map((c) => [c.organizationId, fhir(c)]),
  );

  // The referrals, generated before the clock starts.
  const generator = new ReferralGenerator(demoDirectory(), {
    hospitalIds: [...ehrs.keys()],
    platformOrganizationId: 'carerelay-platform',
    seed: Number(opts.seed),
    delayedConsentShare: 0,
  });
  const referrals = [];
  const total = WARMUP + COUNT;
  for (let guard = 0; referrals.length < total && guard < total * 20; guard++) {
    const referral = generator.next();
    if (['food-insecurity', 'housing-instability'].includes(referral.category))
      referrals.push(referral);
  }

  const byId = new Map(); // referral id (source Task id) -> record
  const early = new Map(); // routed events that came before the Bundle's response
  const readLimiter = new Limiter(Number(opts['read-concurrency']));
  const figures = { readRetries: 0, readFailed: 0, sendFailed: 0, sendRetries: 0, routedEvents: 0 };
  let visible = 0;

  const onRouted = (record, event) => {
    if (record.routedAt) return; // a re-route or a re-delivered event: the first one counts
    record.routedAt = Date.now();
    void readLimiter.run(async () => {
      const cbo = cbos.get(event.targetOrganizationId);
      if (!cbo || !event.cboTaskId) {
        figures.readFailed += 1;
        return;
      }
      for (let attempt = 1; attempt <= 20; attempt++) {
        try {
          await cbo.read('Task', event.cboTaskId);
          record.visibleAt = Date.now();
          visible += 1;
          return;
        } catch (error) {
          if (![0, 403, 404, 429].includes(error.status) && error.status < 500) break;
          figures.readRetries += 1;
          await sleep(100 * attempt);
        }
      }
      figures.readFailed += 1;
    });
  };

  const { Kafka, logLevel } = (await import('kafkajs')).default;
  const consumer = new Kafka({
    clientId: 'bench-loop',
    brokers: [kafka.brokers],
    logLevel: logLevel.NOTHING,
  }).consumer({ groupId: `bench-loop-${process.pid}`, maxWaitTimeInMs: 50 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'referral.events.v1', fromBeginning: true });
  await consumer.run({
    partitionsConsumedConcurrently: 6,
    eachMessage: async ({ message }) => {
      let event;
      try {
        event = JSON.parse(message.value.toString());
      } catch {
        return;
      }
      if (event.state !== 'routed') return;
      figures.routedEvents += 1;
      const record = byId.get(event.referralId);
      if (record) onRouted(record, event);
      else if (!early.has(event.referralId)) early.set(event.referralId, event);
    },
  });

  const pids = () => [process.pid, kafka.pid, ...network.processes.map((p) => p.pid)];
  const connections = await sampleConnections(process.env.DATABASE_URL);
  const cpuStart = cpuSnapshot(pids());
  log(
    `== ${WARMUP ? `${WARMUP} warm-up and ` : ''}${COUNT} referrals, ${opts.concurrency} Bundles in flight at most, ${opts.rate ? `${opts.rate}/s` : 'as fast as accepted'}`,
  );
  const t0 = Date.now();
  const bundleMs = [];
  let next = 0;
  // --rate: a fixed arrival rate (referrals/s) instead of as fast as the FHIR API accepts them.
  const rate = opts.rate ? Number(opts.rate) : 0;
  const workers = Array.from({ length: Number(opts.concurrency) }, async () => {
    while (next < referrals.length) {
      const index = next++;
      const referral = referrals[index];
      if (rate > 0) await sleep(Math.max(0, t0 + (index * 1000) / rate - Date.now()));
      await (async () => {
        const sentAt = Date.now();
        try {
          const response = await withRetry(
            () => {
              const clients = ehrs.get(referral.hospitalId);
              return clients[index % clients.length].transaction(referral.bundle);
            },
            { deadline: sentAt + 120_000, onRetry: () => (figures.sendRetries += 1) },
          );
          const acceptedAt = Date.now();
          bundleMs.push(acceptedAt - sentAt);
          const location = (response.entry ?? [])
            .map((e) => e.response?.location)
            .find((l) => l?.startsWith('Task/'));
          const id = location?.split('/')[1];
          const record = { sentAt, acceptedAt, warmup: index < WARMUP };
          byId.set(id, record);
          const event = early.get(id);
          if (event) {
            early.delete(id);
            onRouted(record, event);
          }
        } catch (error) {
          figures.sendFailed += 1;
          if (figures.sendFailed <= 5) log(`!! Bundle failed: ${error.message}`);
        }
      })();
    }
  });
  const progress = setInterval(
    () => log(`accepted ${byId.size}/${total}, routed ${figures.routedEvents}, visible ${visible}`),
    10_000,
  );
  await Promise.all(workers);
  const sentMs = Date.now() - t0;
  log(`all Bundles answered in ${secs(sentMs)}; waiting for the CBO Tasks`);
  const deadline = t0 + Number(opts.timeout) * 1000;
  let lastVisible = visible;
  let stalledSince = Date.now();
  while (visible + figures.readFailed < byId.size && Date.now() < deadline) {
    await sleep(250);
    if (visible !== lastVisible) {
      lastVisible = visible;
      stalledSince = Date.now();
    } else if (Date.now() - stalledSince > 120_000) {
      log('!! no CBO Task became visible for 120 s: giving up');
      break;
    }
  }
  clearInterval(progress);
  const cpuEnd = cpuSnapshot(pids());
  const peak = await connections.stop();
  await consumer.disconnect().catch(() => undefined);

  const warmups = [...byId.values()].filter((r) => r.warmup);
  const records = [...byId.values()].filter((r) => !r.warmup);
  const done = records.filter((r) => r.visibleAt);
  const latencies = done.map((r) => r.visibleAt - r.acceptedAt).sort((a, b) => a - b);
  const toRouted = records
    .filter((r) => r.routedAt)
    .map((r) => r.routedAt - r.acceptedAt)
    .sort((a, b) => a - b);
  const lastT1 = Math.max(...done.map((r) => r.visibleAt));
  const measuredFrom = WARMUP ? Math.min(...records.map((r) => r.sentAt)) : t0;
  const endToEndSecs = (lastT1 - measuredFrom) / 1000;
  const warmupLatencies = warmups
    .filter((r) => r.visibleAt)
    .map((r) => r.visibleAt - r.acceptedAt)
    .sort((a, b) => a - b);
  const bundles = [...bundleMs].sort((a, b) => a - b);
  const ms = (v) => `${Math.round(v)} ms`;
  const pcts = (sorted) =>
    `p50 ${ms(percentile(sorted, 0.5))}, p90 ${ms(percentile(sorted, 0.9))}, p99 ${ms(percentile(sorted, 0.99))}, max ${ms(sorted.at(-1))}`;
  const shares = cpuShares(cpuStart, cpuEnd);
  const after = machine();
  printTable('referral loop: EHR Bundle accepted -> CBO Task visible to the CBO', [
    ['instances', `${instances} of every service (${fhirApiBases.length} FHIR API)`],
    ['referrals', `${COUNT} sent, ${records.length} accepted, ${done.length} visible to their CBO`],
    [
      'end to end',
      `${(done.length / endToEndSecs).toFixed(1)} referrals/s (${done.length} in ${endToEndSecs.toFixed(1)} s)`,
    ],
    ['latency accepted -> visible', pcts(latencies)],
    ['  accepted -> routed event', pcts(toRouted)],
    ...(WARMUP
      ? [
          [
            'warm-up (not in the above)',
            `${WARMUP} sent first, ${warmupLatencies.length} visible; accepted -> visible ${warmupLatencies.length ? pcts(warmupLatencies) : '-'}`,
          ],
        ]
      : []),
    [
      'Bundles accepted',
      `${(byId.size / (sentMs / 1000)).toFixed(1)}/s (${opts.concurrency} in flight), HTTP ${pcts(bundles)}`,
    ],
    ['send retries / failed', `${figures.sendRetries} / ${figures.sendFailed}`],
    ['CBO reads retried / failed', `${figures.readRetries} / ${figures.readFailed}`],
    [
      'machine',
      `${before.cores} cores (${before.model}), ${before.memGiB} GiB, node ${before.node}`,
    ],
    ['load average before / after', `${before.loadavg.join(' ')} / ${after.loadavg.join(' ')}`],
    [
      'CPU during the run',
      `busy ${shares.busy}: this network ${shares.ours} (apps, Kafka, bench), PostgreSQL ${shares.postgres} (whole server), others ${shares.others}`,
    ],
    [
      'PostgreSQL connections',
      `peak ${peak.network} of this network, ${peak.server} on the server (max_connections ${peak.max}), sampled every 500 ms`,
    ],
    [
      'measured',
      't0 = Bundle HTTP response; t1 = 200 on GET Task/<id> as the owning CBO, done on its referral.routed event',
    ],
  ]);
  return {
    perSecond: done.length / endToEndSecs,
    visible: done.length,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    busy: shares.busy,
  };
}

/**
 * The most connections the network's database and the whole server held while the run lasted:
 * every instance of every service shares the server's max_connections.
 */
async function sampleConnections(databaseUrl) {
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const peak = { network: 0, server: 0, max: 0 };
  const sample = async () => {
    const { rows } = await client.query(
      `SELECT count(*) FILTER (WHERE datname = current_database())::int AS network,
              count(*)::int AS server, current_setting('max_connections')::int AS max
         FROM pg_stat_activity WHERE backend_type = 'client backend'`,
    );
    peak.network = Math.max(peak.network, rows[0].network);
    peak.server = Math.max(peak.server, rows[0].server);
    peak.max = rows[0].max;
  };
  await sample();
  const timer = setInterval(() => void sample().catch(() => undefined), 500);
  return {
    async stop() {
      clearInterval(timer);
      await client.end().catch(() => undefined);
      return peak;
    },
  };
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(`bench failed: ${error.stack ?? error.message}`);
    process.exit(1);
  },
);
