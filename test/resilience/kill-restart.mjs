#!/usr/bin/env node
// Resilience: kill -9 of each service during a run of N referrals; with --kills kafka,postgres,
// db-partition,db-silence also of the Kafka broker (kill -9, then restarted on its data), of
// PostgreSQL (stopped in immediate mode, as a crash would, then started) and of referral-service's
// network path to PostgreSQL for --partition-ms (db-partition: connections dropped, new ones left
// unanswered; db-silence: connections kept but nothing passes, as a lost route looks).
//
//   npm run test:resilience [-- --count 500 --rate 4 --control --kills fhir-api,referral-service]
//
// Starts the network as `npm start` does (no simulator) on its own broker, database and ports
// (test/resilience/harness.mjs), then sends N referrals (transaction Bundles with Consent, as the
// hospitals' EHR clients, paced at --rate, each retried until accepted: the Bundles' conditional
// creates make a retry harmless). A deterministic driver plays the CBOs: each referral has a plan
// fixed by --seed — `complete` (accept, start, complete with a Procedure), `reject-once` (the
// first CBO rejects for lack of capacity, the next one completes) or `reject-all` (every CBO
// rejects: the referral ends on-hold for a coordinator) — and carries it out as the owning CBO's
// own SMART client, one step each time the referral moves (referral.events.v1 nudges it; a
// periodic re-check does not depend on them). While the referrals flow, each service in turn is
// killed with SIGKILL and started again after --down-ms.
//
// Once every referral is settled (bounded by --settle-timeout) and the network was quiet for a few
// seconds, each referral is read again and compared with its plan (and, with --control, with a
// first batch of the same referrals sent without kills): the source Task's final status, the CBO
// Tasks per routing attempt (exactly one per attempt: the identifiers
// https://carerelay.example/fhir/identifier/cbo-task|<referralId>-<attempt> unique, attempts
// 1..k without gaps) and their statuses, one filler-order ServiceRequest per attempt. Also counted:
// messages on every dead-letter topic. Exit code 1 on any mismatch, duplicate, unsettled
// referral or dead-lettered message.
/* global AbortSignal */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import {
  Limiter,
  dlqCounts,
  loadDist,
  machine,
  messagesByKey,
  printTable,
  dlqMessages,
  startCuttableProxy,
  prng,
  secs,
  sleep,
  startIsolatedNetwork,
  withRetry,
} from './harness.mjs';

const SERVICES = [
  'fhir-api',
  'referral-service',
  'consent-service',
  'followup-service',
  'directory-service',
  'ehr-connector',
];
const CBO_TASK_SYSTEM = 'https://carerelay.example/fhir/identifier/cbo-task';
const FILLER_ORDER_SYSTEM = 'https://carerelay.example/fhir/identifier/filler-order';
const ACTIVE = new Set(['draft', 'requested', 'received', 'accepted', 'ready', 'in-progress']);
const SOURCE_FINAL = new Set(['completed', 'on-hold', 'failed', 'cancelled', 'rejected']);
// The CareRelay version an EHR Task holds (apps/ehr-connector writes it with each push).
const CARERELAY_VERSION_EXTENSION =
  'https://carerelay.example/fhir/StructureDefinition/carerelay-task-version';
const versionOnEhr = (task) =>
  task?.extension?.find((e) => e.url === CARERELAY_VERSION_EXTENSION)?.valueInteger ?? 0;
// Consumer groups of the harness and of the network's live summary, not of the services; and the
// web app's live feed, which only tells open browsers "this Task changed" and passes over what
// it cannot read (nothing of it is lost: the page reads the Task itself), so it dead-letters
// nothing.
const HARNESS_GROUP = /^(resilience-driver|carerelay-harness|carerelay-summary|web-live)/;

/** A call to a stand-in EHR server (no auth: the hospital's own side). */
async function ehrRequest(base, method, pathname, body) {
  const response = await fetch(`${base}/${pathname}`, {
    method,
    headers: body ? { 'content-type': 'application/fhir+json' } : {},
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  if (!response.ok)
    throw Object.assign(new Error(`EHR ${method} ${pathname}: HTTP ${response.status}`), {
      status: response.status,
    });
  return text ? JSON.parse(text) : undefined;
}

const { values: opts } = parseArgs({
  options: {
    count: { type: 'string', default: '500' },
    rate: { type: 'string', default: '4' },
    concurrency: { type: 'string', default: '8' },
    seed: { type: 'string', default: '4242' },
    'reject-once-share': { type: 'string', default: '0.15' },
    'reject-all-share': { type: 'string', default: '0.05' },
    kills: { type: 'string', default: SERVICES.join(',') },
    'no-kills': { type: 'boolean', default: false },
    'kill-after': { type: 'string', default: '5' },
    'down-ms': { type: 'string', default: '3000' },
    'partition-ms': { type: 'string', default: '30000' },
    'ehr-down-ms': { type: 'string', default: '600000' },
    poison: { type: 'string', default: '6' },
    'gap-ms': { type: 'string', default: '4000' },
    control: { type: 'boolean', default: false },
    'settle-timeout': { type: 'string', default: '900' },
    'port-base': { type: 'string', default: '27080' },
    'kafka-port': { type: 'string', default: '27192' },
    'postgres-port': { type: 'string' },
    build: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opts.help) {
  console.log(
    'usage: npm run test:resilience [-- --count 500 --rate 4 --concurrency 8 --seed 4242\n' +
      '  --kills fhir-api,referral-service,...,kafka,postgres,db-partition,db-silence,ehr | --no-kills  --kill-after <s> --down-ms 3000 --partition-ms 30000 --ehr-down-ms 600000 --gap-ms 4000\n' +
      '  --poison 6 (invalid events put on the topics: the dead-letter topics must hold exactly them)\n' +
      '  --control (first the same referrals without kills, compared one by one)\n' +
      '  --settle-timeout <s> --port-base 27080 --kafka-port 27192 --postgres-port <port base + 100> --build]',
  );
  process.exit(0);
}

const COUNT = Number(opts.count);
const started = Date.now();
const log = (line) => console.log(`[${secs(Date.now() - started).padStart(7)}] ${line}`);
const { fhirClientFor, ReferralGenerator, demoDirectory, SDOHCC_TEMPORARY_CODES } = loadDist();

/** Each referral's plan, the same for a seed in every run. */
function plans(count, seed) {
  const random = prng(seed);
  const rejectOnce = Number(opts['reject-once-share']);
  const rejectAll = Number(opts['reject-all-share']);
  return Array.from({ length: count }, () => {
    const roll = random();
    return roll < rejectAll
      ? 'reject-all'
      : roll < rejectAll + rejectOnce
        ? 'reject-once'
        : 'complete';
  });
}

/** Referrals for food or housing (every ZIP of the sample directory has services for both). */
function referrals(count, seed) {
  const generator = new ReferralGenerator(demoDirectory(), {
    hospitalIds: ['hosp-northside', 'hosp-southshore'],
    platformOrganizationId: 'carerelay-platform',
    seed,
    delayedConsentShare: 0,
  });
  const list = [];
  for (let guard = 0; list.length < count && guard < count * 20; guard++) {
    const referral = generator.next();
    if (['food-insecurity', 'housing-instability'].includes(referral.category)) list.push(referral);
  }
  return list;
}

const idIn = (bundle, type) => {
  for (const entry of bundle.entry ?? []) {
    const match = entry.response?.location?.match(new RegExp(`${type}/([^/]+)`));
    if (match) return match[1];
  }
  throw new Error(`no ${type} in the transaction response`);
};
const attemptOf = (task, referralId) => {
  const value = task.identifier?.find((i) => i.system === CBO_TASK_SYSTEM)?.value;
  if (!value?.startsWith(`${referralId}-`)) return undefined;
  return Number(value.slice(referralId.length + 1));
};

async function main() {
  const env = await startIsolatedNetwork({
    name: 'resilience',
    portBase: Number(opts['port-base']),
    kafkaPort: Number(opts['kafka-port']),
    // PostgreSQL of the run's own: its crash must not take down anyone else's database.
    postgresPort: Number(opts['postgres-port'] ?? Number(opts['port-base']) + 100),
    build: opts.build,
    log,
  });
  const { network, kafka, postgres } = env;
  let exitCode = 1;
  const stopAll = async () => {
    log('stopping the network and the private broker');
    await env.stop();
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  try {
    exitCode = await run(network, kafka, postgres);
  } finally {
    await stopAll();
  }
  process.exit(exitCode);
}

async function run(network, kafka, postgres) {
  const { Kafka, logLevel } = (await import('kafkajs')).default;
  const connectorUrl = () => network.processes.find((p) => p.app === 'ehr-connector')?.url;
  // Faults of the infrastructure under the services, by the names --kills accepts.
  // The database partition: referral-service is restarted once, before the run, with its
  // DATABASE_URL through a proxy the harness can cut.
  let proxy;
  // Environment a restarted service keeps (a kill -9 must not take it out from behind the proxy).
  const envOverrides = {};
  const partitioned = async () => {
    if (proxy) return proxy;
    const url = new URL(process.env.DATABASE_URL);
    proxy = await startCuttableProxy({ targetPort: Number(url.port || 5432) });
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    await network.killProcess('referral-service', 'SIGTERM');
    envOverrides['referral-service'] = { DATABASE_URL: url.toString() };
    const { ok } = await network.restartProcess(
      'referral-service',
      envOverrides['referral-service'],
    );
    if (!ok) throw new Error('referral-service did not start behind the database proxy');
    return proxy;
  };
  // The hospitals' EHR servers as CareRelay reaches them: through a proxy the harness can take
  // down. Every referral names its EHR's own Task, so that each change of the source Task is
  // pushed back to the EHR (apps/ehr-connector's push queue).
  const ehrLinks = await linkEhrServers();
  const INFRASTRUCTURE_FAULTS = {
    ehr: {
      what: `the EHR servers down (connections refused) for ${secs(Number(opts['ehr-down-ms']))}`,
      downMs: Number(opts['ehr-down-ms']),
      // Long: the other faults go on meanwhile.
      background: true,
      inject: async () => {
        for (const link of ehrLinks.values()) await link.proxy.down();
      },
      recover: async () => {
        for (const link of ehrLinks.values()) await link.proxy.up();
      },
    },
    'db-partition': {
      what: 'referral-service cut off from PostgreSQL (connections dropped, new ones unanswered)',
      downMs: Number(opts['partition-ms']),
      inject: async () => (await partitioned()).partition(),
      recover: async () => (await partitioned()).heal(),
    },
    // The network fault nothing announces: only the service's own timeouts notice it.
    'db-silence': {
      what: "referral-service's network to PostgreSQL silent (connections kept, nothing passes)",
      downMs: Number(opts['partition-ms']),
      inject: async () => (await partitioned()).blackhole(),
      recover: async () => (await partitioned()).heal(),
    },
    kafka: {
      what: 'kill -9 of the Kafka broker',
      inject: () => kafka.kill(),
      recover: () => kafka.restart(),
    },
    postgres: {
      what: 'PostgreSQL stopped in immediate mode (every session cut, no checkpoint)',
      inject: () => postgres.crash(),
      recover: () => postgres.start(),
    },
  };
  const clients = network.clients;
  const fhir = (client) => fhirClientFor(client, network.fhirBaseUrl, network.authMode);
  const ehrs = new Map(
    clients.filter((c) => c.role === 'ehr').map((c) => [c.organizationId, fhir(c)]),
  );
  const cbos = new Map(
    clients.filter((c) => c.role === 'cbo').map((c) => [c.organizationId, fhir(c)]),
  );
  const coordinator = fhir(clients.find((c) => c.role === 'coordinator'));

  async function linkEhrServers() {
    const links = new Map();
    const servers = network.processes.filter((p) => p.app === 'ehr-server' && p.status === 'ready');
    for (const server of servers) {
      const proxy = await startCuttableProxy({ targetPort: server.port });
      const baseUrl = `http://127.0.0.1:${proxy.port}/fhir`;
      const url = `${connectorUrl()}/ehr-endpoints/${server.hospital}`;
      const current = await (await network.platformTokens.fetch(url)).json();
      // Push only: the harness sends the referrals itself (a pull endpoint would take the EHR
      // Tasks it creates for new referrals).
      const response = await network.platformTokens.fetch(url, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          organizationId: current.organizationId,
          baseUrl,
          auth: 'none',
          modes: ['push'],
        }),
      });
      if (!response.ok)
        throw new Error(`EHR endpoint ${server.hospital} via the proxy: HTTP ${response.status}`);
      links.set(server.hospital, { proxy, baseUrl, direct: `${server.url}/fhir` });
    }
    log(`EHR servers behind proxies: ${[...links.keys()].join(', ') || 'none'} (push)`);
    return links;
  }

  /** Invalid events put on the topics, each to be dead-lettered by every group that reads it. */
  async function injectPoison(count) {
    const producer = new Kafka({
      clientId: 'resilience-poison',
      brokers: [kafka.brokers],
      logLevel: logLevel.NOTHING,
    }).producer();
    await producer.connect();
    const kinds = [
      ['fhir.changes.v1', 'org.carerelay.fhir.resource-changed.v1'],
      ['referral.events.v1', 'org.carerelay.referral.routed.v1'],
      ['consent.events.v1', 'org.carerelay.consent.granted.v1'],
    ];
    const injected = [];
    try {
      for (let i = 0; i < count; i++) {
        const [topic, type] = kinds[i % kinds.length];
        const key = `poison-${process.pid}-${i}`;
        // Half not JSON at all, half JSON that fails the type's schema.
        const value = i % 2 === 0 ? '{not json' : JSON.stringify({ poison: i });
        const [meta] = await producer.send({
          topic,
          acks: -1,
          messages: [
            {
              key,
              value,
              headers: {
                ce_specversion: '1.0',
                ce_id: `${key}-${Date.now()}`,
                ce_source: '/resilience/poison',
                ce_type: type,
                ce_time: new Date().toISOString(),
                ce_subject: key,
              },
            },
          ],
        });
        injected.push({ topic, key, partition: meta.partition, offset: Number(meta.baseOffset) });
      }
    } finally {
      await producer.disconnect().catch(() => undefined);
    }
    return injected;
  }
  log(`clients: ${ehrs.size} EHRs, ${cbos.size} CBOs, a coordinator`);

  // Nudges from referral.events.v1: a referral that moved is looked at again at once.
  const consumer = new Kafka({
    clientId: 'resilience-driver',
    brokers: [kafka.brokers],
    logLevel: logLevel.NOTHING,
  }).consumer({ groupId: `resilience-driver-${process.pid}` });
  const byReferralId = new Map();
  await consumer.connect();
  await consumer.subscribe({ topic: 'referral.events.v1', fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      try {
        const data = JSON.parse(message.value.toString());
        const ref = byReferralId.get(data.referralId);
        if (ref && !ref.settledAt) ref.nextCheck = Math.min(ref.nextCheck, Date.now() + 100);
      } catch {
        // not ours to judge
      }
    },
  });

  try {
    const results = {};
    const kills = opts['no-kills'] ? [] : opts.kills.split(',').filter(Boolean);
    if (kills.includes('db-partition') || kills.includes('db-silence')) await partitioned();
    if (opts.control) results.control = await batch('control (no kills)', []);
    results.main = await batch(kills.length ? 'kill -9 run' : 'run without kills', kills);
    return report(results);
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }

  async function batch(label, kills) {
    log(
      `== ${label}: ${COUNT} referrals at ${opts.rate}/s${kills.length ? `, killing ${kills.join(', ')}` : ''}`,
    );
    const seed = Number(opts.seed);
    const plan = plans(COUNT, seed);
    const list = referrals(COUNT, seed).map((referral, index) => ({
      index,
      referral,
      plan: plan[index],
      taskId: undefined,
      nextCheck: Infinity,
      settledAt: undefined,
      steps: 0,
    }));
    const figures = {
      sendRetries: 0,
      sendFailed: 0,
      driverErrors: 0,
      lastDriverError: '',
      kills: [],
    };
    const t0 = Date.now();
    figures.startedAt = t0;
    const deadline = t0 + Number(opts['settle-timeout']) * 1000;

    // 1. Sender: paced, bounded concurrency, retried until accepted.
    const sendLimiter = new Limiter(Number(opts.concurrency));
    const interval = 1000 / Number(opts.rate);
    let sent = 0;
    const sending = Promise.all(
      list.map(async (ref) => {
        await sleep(ref.index * interval);
        await sendLimiter.run(async () => {
          try {
            const link = ehrLinks.get(ref.referral.hospitalId);
            if (link) {
              // The EHR's own Task first (the hospital's side: never through the proxy);
              // CareRelay's copy names it, so that its changes are pushed back.
              const task = ref.referral.bundle.entry.find(
                (e) => e.resource.resourceType === 'Task',
              ).resource;
              // eslint-disable-next-line @typescript-eslint/no-unused-vars
              const { identifier, focus, for: patient, ...own } = task;
              const created = await withRetry(
                () => ehrRequest(link.direct, 'POST', 'Task', { ...own, resourceType: 'Task' }),
                { deadline: Date.now() + 180_000 },
              );
              ref.ehr = { link, taskId: created.id };
              task.identifier = [
                ...(task.identifier ?? []),
                { system: `${link.baseUrl}/Task`, value: created.id },
              ];
            }
            const response = await withRetry(
              () => ehrs.get(ref.referral.hospitalId).transaction(ref.referral.bundle),
              { deadline: Date.now() + 180_000, onRetry: () => (figures.sendRetries += 1) },
            );
            ref.taskId = idIn(response, 'Task');
            ref.acceptedAt = Date.now();
            ref.nextCheck = Date.now() + 500;
            byReferralId.set(ref.taskId, ref);
            sent += 1;
          } catch (error) {
            figures.sendFailed += 1;
            log(`!! referral ${ref.index} not accepted: ${error.message}`);
          }
        });
      }),
    ).then(() => (figures.sentAt = Date.now()));

    // 2. Poison, then the kills, one fault after another, while referrals flow (a background
    //    fault, the long EHR outage, lasts while the next ones go on).
    const killing = (async () => {
      await sleep(Number(opts['kill-after']) * 1000);
      if (Number(opts.poison) > 0) {
        figures.poison = await injectPoison(Number(opts.poison));
        log(`${figures.poison.length} poison messages put on the topics`);
      }
      const background = [];
      for (const name of kills) {
        const killedAt = Date.now();
        const fault = INFRASTRUCTURE_FAULTS[name];
        const done = async ({ ok, pid }) => {
          const readyMs = Date.now() - killedAt;
          log(
            `restarted ${name} (pid ${pid}): ${ok ? 'ready' : 'NOT READY'} ${secs(readyMs)} after the kill`,
          );
          figures.kills.push({ name, ok, downMs: readyMs, at: killedAt - t0 });
          if (name === 'ehr') figures.ehrBackAt = Date.now();
        };
        if (fault) {
          await fault.inject();
          log(`${fault.what}; ${sent}/${COUNT} sent`);
          const recovery = (async () => {
            await sleep(fault.downMs ?? Number(opts['down-ms']));
            // As an operator would: a start that did not come up is tried again, a few times.
            let ok = false;
            for (let attempt = 1; attempt <= 3 && !ok; attempt++) {
              try {
                await fault.recover();
                ok = true;
              } catch (error) {
                log(`!! ${name} did not come back (attempt ${attempt} of 3): ${error.message}`);
              }
            }
            // Nothing can settle without it: stop waiting, the run has failed.
            if (!ok) figures.recoveryFailed = name;
            await done({ ok, pid: name === 'kafka' ? kafka.pid : '-' });
          })();
          if (fault.background) background.push(recovery);
          else await recovery;
        } else {
          const proc = await network.killProcess(name, 'SIGKILL');
          log(`kill -9 ${name} (pid ${proc.pid}, exit ${proc.exitCode}); ${sent}/${COUNT} sent`);
          await sleep(Number(opts['down-ms']));
          const { ok, proc: again } = await network.restartProcess(name, envOverrides[name]);
          await done({ ok, pid: again.pid });
        }
        await sleep(Number(opts['gap-ms']));
      }
      await Promise.all(background);
      if (kills.length) figures.killsDoneAt = Date.now();
    })();

    // 3. The CBOs' driver: looks at due referrals, one step at a time.
    const checkLimiter = new Limiter(8);
    let lastProgress = Date.now();
    const progress = setInterval(() => {
      const settled = list.filter((r) => r.settledAt).length;
      log(
        `${label}: sent ${sent}/${COUNT}, settled ${settled}, driver errors ${figures.driverErrors}`,
      );
    }, 10_000);
    const inFlight = new Set();
    while (Date.now() < deadline && !figures.recoveryFailed) {
      const open = list.filter((r) => r.taskId && !r.settledAt);
      if (open.length === 0 && figures.sentAt) break;
      const now = Date.now();
      for (const ref of open) {
        if (ref.nextCheck <= now && !inFlight.has(ref)) {
          inFlight.add(ref);
          ref.nextCheck = Infinity;
          void checkLimiter
            .run(() => check(ref))
            .then(
              (acted) => {
                if (acted) lastProgress = Date.now();
              },
              (error) => {
                figures.driverErrors += 1;
                figures.lastDriverError = error.message;
                ref.nextCheck = Date.now() + 2000;
              },
            )
            .finally(() => inFlight.delete(ref));
        }
      }
      await sleep(50);
    }
    clearInterval(progress);
    while (inFlight.size > 0) await sleep(50);
    await Promise.all([sending, killing]);
    const lastSettled = Math.max(t0, ...list.map((r) => r.settledAt ?? 0));
    figures.settleMs = lastSettled - t0;
    figures.afterKillsMs = figures.killsDoneAt ? lastSettled - figures.killsDoneAt : undefined;
    figures.idleMs = Date.now() - lastProgress;

    // 4. Quiet period, then everything read again as it finally is.
    log(
      `${label}: ${list.filter((r) => r.settledAt).length}/${COUNT} settled; quiet 10 s, then the final read`,
    );
    await sleep(10_000);
    const finalLimiter = new Limiter(8);
    await Promise.all(
      list.map((ref) =>
        finalLimiter.run(async () => {
          if (!ref.taskId) return;
          ref.final = await withRetry(() => outcomeOf(ref), { deadline: Date.now() + 60_000 });
        }),
      ),
    );
    if (ehrLinks.size > 0) await ehrCatchUp(list, figures);
    return { label, list, figures };

    /** One look at a referral: the next CBO step if any, else is it settled? */
    async function check(ref) {
      const tasks = await cboTasksOf(ref.taskId);
      for (const task of tasks) {
        if (!ACTIVE.has(task.status)) continue;
        const attempt = attemptOf(task, ref.taskId);
        const org = task.owner?.reference?.split('/')[1];
        const cbo = cbos.get(org);
        if (!cbo) throw new Error(`CBO Task/${task.id} owned by ${org}: no client for it`);
        const reject = ref.plan === 'reject-all' || (ref.plan === 'reject-once' && attempt === 1);
        await step(cbo, task, reject);
        ref.steps += 1;
        ref.nextCheck = Date.now() + 200;
        return true;
      }
      // No CBO Task open and the source Task final (even without any CBO Task: the comparison
      // with the plan will tell).
      const source = await coordinator.read('Task', ref.taskId);
      if (SOURCE_FINAL.has(source.status)) {
        ref.settledAt = Date.now();
        return true;
      }
      ref.nextCheck = Date.now() + 5000;
      return false;
    }

    async function step(cbo, task, reject) {
      if (task.status === 'requested') {
        await cbo.updateWithIfMatch('Task', task.id, (t) => {
          if (t.status !== 'requested') return undefined;
          t.status = reject ? 'rejected' : 'accepted';
          if (reject) t.statusReason = { text: 'No capacity (resilience plan)' };
          return t;
        });
      } else if (task.status === 'accepted') {
        await cbo.updateWithIfMatch('Task', task.id, (t) => {
          if (t.status !== 'accepted') return undefined;
          t.status = 'in-progress';
          return t;
        });
      } else if (task.status === 'in-progress') {
        const procedure = await cbo.create({
          resourceType: 'Procedure',
          status: 'completed',
          code: { coding: [{ system: 'http://snomed.info/sct', code: '410606002' }] },
          subject: task.for,
          performedDateTime: new Date().toISOString(),
        });
        await cbo.updateWithIfMatch('Task', task.id, (t) => {
          if (t.status !== 'in-progress') return undefined;
          t.status = 'completed';
          t.output = [
            {
              type: { coding: [{ system: SDOHCC_TEMPORARY_CODES, code: 'resulting-activity' }] },
              valueReference: { reference: `Procedure/${procedure.id}` },
            },
          ];
          return t;
        });
      }
    }
  }

  /**
   * The EHRs' side: waits (bounded by --settle-timeout) until every EHR Task holds its source
   * Task's last version, then reads each EHR Task's history: the CareRelay versions it went
   * through must rise, each with the source Task's status at that version (updated in order,
   * nothing older written over newer).
   */
  async function ehrCatchUp(list, figures) {
    const linked = list.filter((r) => r.ehr && r.final);
    const limiter = new Limiter(8);
    const deadline = Date.now() + Number(opts['settle-timeout']) * 1000;
    let behind = linked;
    for (;;) {
      const still = [];
      await Promise.all(
        behind.map((ref) =>
          limiter.run(async () => {
            const task = await withRetry(
              () => ehrRequest(ref.ehr.link.direct, 'GET', `Task/${ref.ehr.taskId}`),
              { deadline: Date.now() + 60_000 },
            );
            if (versionOnEhr(task) < ref.final.version) still.push(ref);
          }),
        ),
      );
      behind = still;
      if (behind.length === 0 || Date.now() > deadline) break;
      log(`EHR Tasks: ${linked.length - behind.length}/${linked.length} up to date`);
      await sleep(5000);
    }
    figures.ehrCaughtUpAt = Date.now();
    figures.ehrBehind = behind.length;
    const raw = await coordinator.raw();
    await Promise.all(
      linked.map((ref) =>
        limiter.run(async () => {
          const history = await withRetry(
            () => ehrRequest(ref.ehr.link.direct, 'GET', `Task/${ref.ehr.taskId}/_history`),
            { deadline: Date.now() + 60_000 },
          );
          const versions = (history.entry ?? [])
            .map((e) => e.resource)
            .filter(Boolean)
            // Version ids of the stand-in EHR are not numbers: in the order they were written.
            .sort((a, b) => Date.parse(a.meta?.lastUpdated) - Date.parse(b.meta?.lastUpdated));
          const sourceHistory = await withRetry(
            () => raw.history({ resourceType: 'Task', id: ref.taskId }),
            { deadline: Date.now() + 60_000 },
          );
          const statusAt = new Map(
            (sourceHistory.entry ?? [])
              .map((e) => e.resource)
              .filter(Boolean)
              .map((t) => [Number(t.meta?.versionId), t.status]),
          );
          const written = versions
            .map((v) => ({ version: versionOnEhr(v), status: v.status }))
            .filter((w) => w.version > 0);
          const problems = [];
          written.forEach((w, i) => {
            if (i > 0 && w.version <= written[i - 1].version)
              problems.push(`v${w.version} written after v${written[i - 1].version}`);
            if (statusAt.has(w.version) && statusAt.get(w.version) !== w.status)
              problems.push(`v${w.version} ${w.status} (source ${statusAt.get(w.version)})`);
          });
          const last = written.at(-1);
          if (!last || last.version !== ref.final.version || last.status !== ref.final.status)
            problems.push(
              `holds v${last?.version ?? 0} ${last?.status ?? '-'}, source v${ref.final.version} ${ref.final.status}`,
            );
          ref.ehr.writes = written.length;
          ref.ehr.problem = problems.join('; ') || undefined;
        }),
      ),
    );
    const response = await network.platformTokens
      .fetch(`${connectorUrl()}/push/deliveries?state=parked`)
      .catch(() => undefined);
    figures.parked = response?.ok ? (await response.json()).length : 'unknown';
  }

  async function cboTasksOf(sourceTaskId) {
    const found = await coordinator.search('Task', {
      'part-of': `Task/${sourceTaskId}`,
      _count: 100,
    });
    return (found.entry ?? []).map((e) => e.resource).filter((r) => r?.resourceType === 'Task');
  }

  /** What a referral finally is: source Task, CBO Tasks by attempt, filler-orders. */
  async function outcomeOf(ref) {
    const source = await coordinator.read('Task', ref.taskId);
    const tasks = await cboTasksOf(ref.taskId);
    const sourceSr = source.focus?.reference?.split('/')[1];
    const fillers = sourceSr
      ? (
          (
            await coordinator.search('ServiceRequest', {
              'based-on': `ServiceRequest/${sourceSr}`,
              _count: 100,
            })
          ).entry ?? []
        )
          .map((e) => e.resource)
          .filter((r) => r?.intent === 'filler-order')
      : [];
    const attempts = tasks.map((t) => attemptOf(t, ref.taskId)).sort((a, b) => a - b);
    const ids = tasks.map((t) => t.identifier?.find((i) => i.system === CBO_TASK_SYSTEM)?.value);
    const fillerIds = fillers.map(
      (s) => s.identifier?.find((i) => i.system === FILLER_ORDER_SYSTEM)?.value,
    );
    const byAttempt = [...tasks].sort(
      (a, b) => attemptOf(a, ref.taskId) - attemptOf(b, ref.taskId),
    );
    return {
      status: source.status,
      version: Number(source.meta?.versionId),
      statusReason: source.statusReason?.text,
      cboStatuses: byAttempt.map((t) => t.status),
      cboOwners: byAttempt.map((t) => t.owner?.reference),
      attempts,
      duplicateTasks: ids.length - new Set(ids).size + ids.filter((v) => v === undefined).length,
      duplicateFillers:
        fillerIds.length -
        new Set(fillerIds).size +
        fillerIds.filter((v) => v === undefined).length,
      fillerCount: fillers.length,
    };
  }

  /**
   * Everything that happened to one referral: each version of its source Task and CBO Tasks (who
   * wrote what, when), and every event keyed by it, its Tasks, ServiceRequests or patient on every
   * topic, with the consumer groups that committed past it and those that have not.
   */
  async function tellStory(ref) {
    console.log(`\n  story of #${ref.index} Task/${ref.taskId} (plan ${ref.plan})`);
    try {
      const source = await coordinator.read('Task', ref.taskId);
      const tasks = [source, ...(await cboTasksOf(ref.taskId))];
      const raw = await coordinator.raw();
      for (const task of tasks) {
        const history = await raw.history({ resourceType: 'Task', id: task.id });
        const versions = (history.entry ?? [])
          .map((e) => e.resource)
          .filter(Boolean)
          .reverse();
        console.log(
          `    Task/${task.id} (${task.id === ref.taskId ? 'source' : `CBO ${task.owner?.reference}`})`,
        );
        for (const v of versions)
          console.log(
            `      v${v.meta?.versionId} ${v.meta?.lastUpdated} ${v.status}${v.businessStatus?.text ? ` (${v.businessStatus.text})` : ''}${v.statusReason?.text ? ` — ${v.statusReason.text}` : ''}`,
          );
      }
      const refs = (r) => (r?.reference ? [r.reference] : []);
      const keys = [
        ref.taskId,
        ...tasks.map((t) => `Task/${t.id}`),
        ...tasks.flatMap((t) => refs(t.focus)),
        ...refs(source.for).map((p) => p.replace(/^Patient\//, '')),
        ...refs(source.for),
      ];
      for (const m of await messagesByKey(kafka.brokers, keys)) {
        let what = '';
        try {
          const data = JSON.parse(m.value ?? '{}');
          what =
            data.state ??
            (data.versionId
              ? `v${data.versionId} ${data.action} ${data.resource?.status ?? ''}`
              : '');
        } catch {
          what = '(not JSON)';
        }
        console.log(
          `      ${m.topic}[${m.partition}]@${m.offset} ${m.headers.ce_time ?? ''} ${m.headers.ce_type ?? ''} ${m.key} ${what}` +
            `${m.headers.dlq_error ? ` DLQ(${m.headers.dlq_consumer}: ${m.headers.dlq_error.slice(0, 120)})` : ''}` +
            ` | consumed by ${m.consumedBy.join(', ') || 'none'}${m.pendingFor.length ? ` | not yet by ${m.pendingFor.join(', ')}` : ''}`,
        );
      }
    } catch (error) {
      console.log(`    (story incomplete: ${error.message})`);
    }
  }

  /** Why a referral's final state is not what its plan says (undefined when it is). */
  function planMismatch(ref) {
    const f = ref.final;
    if (!f) return 'never accepted by the FHIR API';
    const contiguous = f.attempts.every((a, i) => a === i + 1);
    if (!contiguous) return `attempts ${f.attempts.join(',')} not 1..k`;
    if (f.duplicateTasks) return `${f.duplicateTasks} duplicate CBO Task(s)`;
    if (f.duplicateFillers) return `${f.duplicateFillers} duplicate filler-order(s)`;
    if (f.fillerCount !== f.attempts.length)
      return `${f.fillerCount} filler-orders for ${f.attempts.length} attempts`;
    const want = {
      complete: { status: 'completed', cbo: ['completed'] },
      'reject-once': { status: 'completed', cbo: ['rejected', 'completed'] },
    }[ref.plan];
    const got = `${f.status} [${f.cboStatuses.join(',')}]`;
    if (want) {
      if (f.status !== want.status || f.cboStatuses.join() !== want.cbo.join())
        return `${ref.plan}: want ${want.status} [${want.cbo.join(',')}], got ${got}`;
      return undefined;
    }
    // reject-all: every CBO asked rejected (1..3 of them), the referral waits for a coordinator.
    if (
      f.status !== 'on-hold' ||
      f.cboStatuses.length < 1 ||
      f.cboStatuses.length > 3 ||
      f.cboStatuses.some((s) => s !== 'rejected')
    )
      return `reject-all: want on-hold [rejected x1..3], got ${got}`;
    return undefined;
  }

  async function report(results) {
    const dlq = await dlqCounts(kafka.brokers);
    const dlqTotal = Object.values(dlq).reduce((a, b) => a + b, 0);
    const failures = [];
    for (const { label, list, figures } of Object.values(results)) {
      const finals = list.map((r) => r.final).filter(Boolean);
      const states = {};
      for (const f of finals) states[f.status] = (states[f.status] ?? 0) + 1;
      const byPlan = {};
      for (const r of list) byPlan[r.plan] = (byPlan[r.plan] ?? 0) + 1;
      const mismatches = list.map((r) => [r, planMismatch(r)]).filter(([, why]) => why);
      const unsettled = list.filter((r) => !r.settledAt).length;
      const duplicates = finals.reduce((s, f) => s + f.duplicateTasks, 0);
      const dupFillers = finals.reduce((s, f) => s + f.duplicateFillers, 0);
      const cboTasks = finals.reduce((s, f) => s + f.attempts.length, 0);
      const rows = [
        [
          'referrals',
          `${list.length} (plans: ${Object.entries(byPlan)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')})`,
        ],
        [
          'accepted by the FHIR API',
          `${list.filter((r) => r.taskId).length} (send retries ${figures.sendRetries}, failed ${figures.sendFailed})`,
        ],
        ['settled', `${list.length - unsettled} (unsettled ${unsettled})`],
        ['completed', String(states.completed ?? 0)],
        [
          'final source Task states',
          Object.entries(states)
            .map(([k, v]) => `${k} ${v}`)
            .join(', '),
        ],
        [
          'CBO Tasks',
          `${cboTasks} (${(cboTasks / Math.max(1, finals.length)).toFixed(2)} per referral)`,
        ],
        ['duplicate CBO Tasks', String(duplicates)],
        ['duplicate filler-orders', String(dupFillers)],
        ['not as planned', String(mismatches.length)],
        [
          'time to settle',
          `${secs(figures.settleMs)} from the first Bundle` +
            (figures.afterKillsMs === undefined
              ? ''
              : figures.afterKillsMs >= 0
                ? `, ${secs(figures.afterKillsMs)} after the last restart`
                : `, ${secs(-figures.afterKillsMs)} before the last fault ended`),
        ],
        [
          'driver errors (retried)',
          `${figures.driverErrors}${figures.lastDriverError ? ` (last: ${figures.lastDriverError.slice(0, 100)})` : ''}`,
        ],
      ];
      const linked = list.filter((r) => r.ehr && r.final);
      const ehrProblems = linked.filter((r) => r.ehr.problem);
      if (linked.length > 0) {
        rows.push([
          'EHR Tasks (pushed back)',
          `${linked.length} linked, ${linked.reduce((n, r) => n + (r.ehr.writes ?? 0), 0)} versions written, ` +
            `not in order or not up to date ${ehrProblems.length}, parked deliveries ${figures.parked}`,
        ]);
        rows.push([
          'EHR caught up',
          `${figures.ehrBehind ? `NOT: ${figures.ehrBehind} behind` : 'all up to date'} ` +
            (figures.ehrBackAt
              ? `${secs(figures.ehrCaughtUpAt - figures.ehrBackAt)} after the EHR came back`
              : `${secs(figures.ehrCaughtUpAt - figures.startedAt)} from the first Bundle`),
        ]);
      }
      for (const k of figures.kills)
        rows.push([
          `  ${INFRASTRUCTURE_FAULTS[k.name] ? 'fault' : 'kill -9'} ${k.name}`,
          `at ${secs(k.at)}, ready again ${secs(k.downMs)} later${k.ok ? '' : ' (NOT READY)'}`,
        ]);
      printTable(label, rows);
      for (const [r, why] of mismatches.slice(0, 20))
        console.log(`  !! #${r.index} Task/${r.taskId}: ${why} (${r.final?.statusReason ?? ''})`);
      for (const r of ehrProblems.slice(0, 20))
        console.log(
          `  !! #${r.index} EHR Task/${r.ehr.taskId} of Task/${r.taskId}: ${r.ehr.problem}`,
        );
      if (ehrProblems.length)
        failures.push(`${label}: ${ehrProblems.length} EHR Tasks not updated in order`);
      if (typeof figures.parked === 'number' && figures.parked > 0)
        failures.push(`${label}: ${figures.parked} push deliveries parked`);
      const troubled = [
        ...new Set([
          ...mismatches.map(([r]) => r),
          ...list.filter((r) => !r.settledAt),
          ...ehrProblems,
        ]),
      ].filter((r) => r.taskId);
      for (const r of troubled.slice(0, 5)) await tellStory(r);
      if (mismatches.length)
        failures.push(`${label}: ${mismatches.length} referrals not as planned`);
      if (unsettled) failures.push(`${label}: ${unsettled} referrals unsettled`);
      if (figures.kills.some((k) => !k.ok))
        failures.push(`${label}: a service did not get ready after its restart`);
    }
    if (results.control) {
      let differ = 0;
      results.main.list.forEach((r, i) => {
        const c = results.control.list[i]?.final;
        const m = r.final;
        const key = (f) => f && `${f.status}|${f.cboStatuses.join()}|${f.cboOwners.join()}`;
        if (key(c) !== key(m)) {
          differ += 1;
          if (differ <= 20) console.log(`  !! #${i}: control ${key(c)} vs ${key(m)}`);
        }
      });
      printTable('kill run vs control', [['referrals whose final state differs', String(differ)]]);
      if (differ) failures.push(`${differ} referrals differ from the control run`);
    }
    // Exactly the injected poison, once per consumer group that reads its topic; nothing else.
    const injected = Object.values(results).flatMap((r) => r.figures.poison ?? []);
    const { messages: dead, groupsOf } = await dlqMessages(kafka.brokers);
    const slot = (topic, partition, offset, group) => `${topic}/${partition}@${offset} ${group}`;
    const expected = new Set(
      injected.flatMap((p) =>
        (groupsOf[p.topic] ?? [])
          .filter((g) => !HARNESS_GROUP.test(g))
          .map((g) => slot(p.topic, p.partition, p.offset, g)),
      ),
    );
    const seen = new Map();
    for (const m of dead) {
      const key = slot(
        m.headers.dlq_original_topic,
        Number(m.headers.dlq_original_partition),
        Number(m.headers.dlq_original_offset),
        m.headers.dlq_consumer,
      );
      seen.set(key, [...(seen.get(key) ?? []), m]);
    }
    const unexpected = [...seen.entries()].filter(([key]) => !expected.has(key));
    const twice = [...seen.entries()].filter(([key, ms]) => expected.has(key) && ms.length > 1);
    const missing = [...expected].filter((key) => !seen.has(key));
    printTable('dead-letter topics', [
      ...Object.entries(dlq).map(([topic, n]) => [topic, String(n)]),
      ['total', String(dlqTotal)],
      [
        'poison injected',
        `${injected.length} messages, expected ${expected.size} dead letters (one per reading group)`,
      ],
      [
        'dead letters',
        `as injected ${expected.size - missing.length}, missing ${missing.length}, not injected ${unexpected.length}, twice ${twice.length}`,
      ],
    ]);
    for (const [key, ms] of unexpected.slice(0, 10))
      console.log(
        `  !! dead letter not injected: ${key} key ${ms[0].key} ${ms[0].headers.ce_type ?? ''}: ${(ms[0].headers.dlq_error ?? '').slice(0, 160)}`,
      );
    for (const key of missing.slice(0, 10)) console.log(`  !! poison not dead-lettered: ${key}`);
    if (unexpected.length)
      failures.push(`${unexpected.length} dead-lettered messages not injected`);
    if (missing.length) failures.push(`${missing.length} poison messages not dead-lettered`);
    // (A group killed between writing a dead letter and committing its offset writes it again:
    // at least once, shown above, not a loss.)
    // The reconciliation's repairs, from referral-service's log (its metric restarts with it).
    let repairs = 'no log';
    try {
      const lines = fs
        .readFileSync(path.join(network.stateDir, 'logs', 'referral-service.log'), 'utf8')
        .split('\n')
        .filter((l) => l.includes(' repaired ('));
      repairs = String(lines.length);
      for (const line of lines.slice(0, 10)) console.log(`  repair: ${line.slice(0, 300)}`);
    } catch {
      // no log file: the figure says so
    }
    printTable('reconciliation', [['repairs made', repairs]]);
    const m = machine();
    printTable('run', [
      [
        'machine',
        `${m.cores} cores (${m.model}), ${m.memGiB} GiB, load ${m.loadavg.join(' ')}, node ${m.node}`,
      ],
      ['logs', path.join(network.stateDir, 'logs')],
      ['result', failures.length ? `FAILED: ${failures.join('; ')}` : 'PASSED'],
    ]);
    return failures.length ? 1 : 0;
  }
}

main().catch((error) => {
  console.error(`resilience test failed: ${error.stack ?? error.message}`);
  process.exit(2);
});
