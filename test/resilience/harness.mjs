// Shared by test/resilience/kill-restart.mjs and bench/loop.mjs: the whole network as `npm start`
// runs it (infra/lib/network.mjs, no simulator), isolated from other runs on the same machine:
//   - its own Kafka broker, started here from the cached jars of .carerelay/kafka/libs on its own
//     port with its own data directory (wiped at every start). The services' consumer groups and
//     topics have fixed names: on a shared broker, a second network's referral-service would
//     join the same group and take half of our partitions;
//   - its own PostgreSQL database (dropped and created again at every start) on the server
//     infra.mjs finds, its own port base and state directory.
// Plain Node ESM; the compiled simulator and fhir-client (dist/) are loaded with require.
/* global AbortSignal */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

import { ROOT, STATE_DIR } from '../../infra/lib/infra.mjs';
import tcpProxy from '../../infra/lib/tcp-proxy.cjs';
import { cpuSecondsOf, parentPidOf } from '../../infra/bin/status.mjs';
import { startNetwork, startPrivateKafka as startPrivateBroker } from '../../infra/lib/network.mjs';

const require = createRequire(import.meta.url);
const HOST = '127.0.0.1';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;

/** The compiled simulator pieces (dist/), with the @carerelay/* aliases resolved. */
export function loadDist() {
  require(path.join(ROOT, 'infra', 'lib', 'register-paths.cjs'));
  const dist = (p) => path.join(ROOT, 'dist', 'tools', 'simulator', 'src', p);
  for (const file of ['credentials.js', 'referral-generator.js', 'demo-network.js']) {
    if (!fs.existsSync(dist(file))) throw new Error(`${dist(file)} missing: npm run build first`);
  }
  const { fhirClientFor } = require(dist('credentials.js'));
  const { ReferralGenerator } = require(dist('referral-generator.js'));
  const { demoDirectory } = require(dist('demo-network.js'));
  const { SDOHCC_TEMPORARY_CODES } = require(dist('cbo-bots.js'));
  return { fhirClientFor, ReferralGenerator, demoDirectory, SDOHCC_TEMPORARY_CODES };
}

// ---------------------------------------------------------------------------------------------
// A private Kafka broker

/**
 * Starts a single-node KRaft broker on `port` (controller on port + 1), fresh data under `dir`:
 * the same private broker as the benchmarks' (infra/lib/network.mjs startPrivateKafka), with
 * kill() (kill -9) and restart() (same data) for the crash scenarios.
 */
export function startPrivateKafka({ dir, port, log }) {
  return startPrivateBroker({ dir, port, fresh: true, log });
}

/**
 * A PostgreSQL server of the run's own (initdb in a fresh directory, its own port), so that its
 * crash and restart disturb no one else on the machine. PostgreSQL refuses to run as root: as
 * root, the server runs as the `postgres` user. `crash()` stops it in immediate mode (every
 * session cut, no checkpoint: WAL recovery at the next start), `start()` starts it on the same
 * data.
 */
export async function startPrivatePostgres({ port, log }) {
  const bin = (name) => {
    for (const dir of [
      ...fs
        .readdirSync('/usr/lib/postgresql', { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => path.join('/usr/lib/postgresql', d.name, 'bin'))
        .sort()
        .reverse(),
    ])
      if (fs.existsSync(path.join(dir, name))) return path.join(dir, name);
    return name;
  };
  const asRoot = process.getuid?.() === 0;
  const run = (cmd, args) =>
    new Promise((resolve, reject) => {
      const [file, argv] = asRoot
        ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]]
        : [cmd, args];
      const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (d) => (output += d));
      child.stderr.on('data', (d) => (output += d));
      child.once('error', reject);
      child.once('exit', (code) =>
        code === 0
          ? resolve(output)
          : reject(new Error(`${cmd} ${args.join(' ')}: ${output.trim()}`)),
      );
    });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `carerelay-pg-${port}-`));
  fs.chmodSync(dir, 0o755);
  const data = path.join(dir, 'data');
  if (asRoot) {
    const entry = fs
      .readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .map((l) => l.split(':'))
      .find((cols) => cols[0] === 'postgres');
    if (!entry) throw new Error('no postgres user to run PostgreSQL as (it refuses root)');
    fs.chownSync(dir, Number(entry[2]), Number(entry[3]));
  }
  const started = Date.now();
  await run(bin('initdb'), [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth=trust',
    '-E',
    'UTF8',
    '--no-sync',
  ]);
  fs.appendFileSync(
    path.join(data, 'postgresql.conf'),
    [
      '',
      `port = ${port}`,
      `listen_addresses = '${HOST}'`,
      `unix_socket_directories = '${dir}'`,
      'max_connections = 400',
      'shared_buffers = 128MB',
      'fsync = on',
      'synchronous_commit = on',
      '',
    ].join('\n'),
  );
  const pgLog = path.join(dir, 'postgres.log');
  const start = async () => {
    await run(bin('pg_ctl'), ['-D', data, '-l', pgLog, '-w', '-t', '120', 'start']);
  };
  await start();
  log(`private PostgreSQL at ${HOST}:${port} (data ${data}) in ${secs(Date.now() - started)}`);
  return {
    port,
    dir,
    url: `postgres://postgres@${HOST}:${port}`,
    async crash() {
      await run(bin('pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
    },
    start,
    async stop() {
      await run(bin('pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']).catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A Kafka client of the harness and its connected admin. */
async function harnessKafka(brokers, clientId) {
  const { Kafka, logLevel } = (await import('kafkajs')).default;
  const kafka = new Kafka({ clientId, brokers: [brokers], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  return { kafka, admin };
}

/** The high watermark of every non-empty partition of `topics`, by `topic/partition`. */
async function highWatermarks(admin, topics) {
  const high = new Map();
  for (const topic of topics)
    for (const o of await admin.fetchTopicOffsets(topic))
      if (Number(o.high) > Number(o.low)) high.set(`${topic}/${o.partition}`, Number(o.high));
  return high;
}

const headersOf = (message) =>
  Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, v?.toString()]));

/**
 * Reads the partitions of `high` from the beginning up to their high watermark (a minute at
 * most), handing each message to `onMessage`, with a group of its own that commits nothing.
 */
async function readToEnd(kafka, groupId, high, onMessage) {
  if (high.size === 0) return;
  const consumer = kafka.consumer({ groupId });
  await consumer.connect();
  await consumer.subscribe({
    topics: [...new Set([...high.keys()].map((k) => k.split('/')[0]))],
    fromBeginning: true,
  });
  const remaining = new Set(high.keys());
  await new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, 60_000);
    consumer
      .run({
        autoCommit: false,
        eachMessage: async ({ topic, partition, message }) => {
          onMessage(topic, partition, message);
          if (Number(message.offset) + 1 >= high.get(`${topic}/${partition}`)) {
            remaining.delete(`${topic}/${partition}`);
            if (remaining.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect().catch(() => undefined);
}

/** Messages on every *.dlq topic (the broker is fresh: the high watermark is the count). */
export async function dlqCounts(brokers) {
  const { admin } = await harnessKafka(brokers, 'carerelay-harness-dlq');
  try {
    const topics = (await admin.listTopics()).filter((t) => t.endsWith('.dlq')).sort();
    const counts = {};
    for (const topic of topics) {
      const offsets = await admin.fetchTopicOffsets(topic);
      counts[topic] = offsets.reduce((sum, o) => sum + Number(o.high) - Number(o.low), 0);
    }
    return counts;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Every message on the dead-letter topics (headers as text), and for each other topic the
 * consumer groups that read it (those with a committed offset on it).
 */
export async function dlqMessages(brokers) {
  const { kafka, admin } = await harnessKafka(brokers, 'carerelay-harness-dlq');
  const messages = [];
  const groupsOf = {};
  try {
    const topics = (await admin.listTopics()).filter((t) => !t.startsWith('__')).sort();
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
    for (const groupId of groups)
      for (const { topic, partitions } of await admin.fetchOffsets({ groupId, topics }))
        if (partitions.some((p) => Number(p.offset) >= 0)) (groupsOf[topic] ??= []).push(groupId);
    const high = await highWatermarks(
      admin,
      topics.filter((t) => t.endsWith('.dlq')),
    );
    await readToEnd(
      kafka,
      `carerelay-harness-dlq-${process.pid}`,
      high,
      (topic, partition, message) =>
        messages.push({
          topic,
          partition,
          offset: Number(message.offset),
          key: message.key?.toString(),
          headers: headersOf(message),
        }),
    );
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  return { messages, groupsOf };
}

/**
 * Every message on every topic (dead-letter twins included) whose key is one of `keys`, in topic
 * and offset order, each with the consumer groups that have committed past it — for telling the
 * story of a referral that did not end as planned.
 */
export async function messagesByKey(brokers, keys) {
  const { kafka, admin } = await harnessKafka(brokers, 'carerelay-harness-story');
  const wanted = new Set(keys);
  const found = [];
  try {
    const topics = (await admin.listTopics()).filter((t) => !t.startsWith('__')).sort();
    const high = await highWatermarks(admin, topics);
    const groups = (await admin.listGroups()).groups
      .map((g) => g.groupId)
      .filter((g) => !g.startsWith('carerelay-harness'));
    const committed = new Map();
    for (const groupId of groups) {
      for (const { topic, partitions } of await admin.fetchOffsets({ groupId, topics })) {
        for (const { partition, offset } of partitions)
          if (Number(offset) >= 0)
            committed.set(`${groupId} ${topic}/${partition}`, Number(offset));
      }
    }
    await readToEnd(
      kafka,
      `carerelay-harness-story-${process.pid}`,
      high,
      (topic, partition, message) => {
        const key = message.key?.toString();
        if (!key || !wanted.has(key)) return;
        const offset = Number(message.offset);
        found.push({
          topic,
          partition,
          offset,
          key,
          headers: headersOf(message),
          value: message.value?.toString(),
          consumedBy: groups.filter(
            (g) => (committed.get(`${g} ${topic}/${partition}`) ?? -1) > offset,
          ),
          pendingFor: groups.filter((g) => {
            const c = committed.get(`${g} ${topic}/${partition}`);
            return c !== undefined && c <= offset;
          }),
        });
      },
    );
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  return found.sort((a, b) =>
    a.topic === b.topic
      ? a.partition - b.partition || a.offset - b.offset
      : a.topic < b.topic
        ? -1
        : 1,
  );
}
export async function freshDatabase(name, serverUrl) {
  const pg = (await import('pg')).default;
  const user = encodeURIComponent(process.env.PGUSER || 'postgres');
  const password = process.env.PGPASSWORD ? `:${encodeURIComponent(process.env.PGPASSWORD)}` : '';
  const server = serverUrl ?? `postgres://${user}${password}@${HOST}:${process.env.PGPORT || 5432}`;
  const client = new pg.Client({ connectionString: `${server}/postgres` });
  await client.connect();
  try {
    const ident = client.escapeIdentifier(name);
    await client.query(`DROP DATABASE IF EXISTS ${ident} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${ident}`);
  } finally {
    await client.end();
  }
  return `${server}/${encodeURIComponent(name)}`;
}

// ---------------------------------------------------------------------------------------------
// The isolated network

/**
 * @param {object} o
 * @param {string} o.name state dir .carerelay/<name>, database carerelay_<name>
 * @param {number} o.portBase apps at portBase.. portBase + 11
 * @param {number} o.kafkaPort private broker (controller at + 1)
 * @param {boolean} [o.build] npm run build first (default false: dist/ as it is)
 * @param {number} [o.postgresPort] a private PostgreSQL server on this port (startPrivatePostgres)
 *   instead of the machine's
 * @param {number} [o.instances] instances of every service (startNetwork's), default 1
 * @param {(line: string) => void} o.log
 */
export async function startIsolatedNetwork({
  name,
  portBase,
  kafkaPort,
  postgresPort,
  build = false,
  instances = 1,
  log,
}) {
  const stateDir = path.join(STATE_DIR, name);
  fs.mkdirSync(stateDir, { recursive: true });
  const kafka = await startPrivateKafka({
    dir: path.join(stateDir, 'kafka'),
    port: kafkaPort,
    log,
  });
  let network;
  let postgres;
  try {
    if (postgresPort) postgres = await startPrivatePostgres({ port: postgresPort, log });
    const database = `carerelay_${name.replace(/[^a-z0-9]+/gi, '_')}`;
    process.env.DATABASE_URL = await freshDatabase(database, postgres?.url);
    process.env.KAFKA_BROKERS = kafka.brokers;
    log(`database ${database} (fresh)`);
    fs.rmSync(path.join(stateDir, 'logs'), { recursive: true, force: true });
    network = await startNetwork({
      owner: `${name}:${process.pid}`,
      portBase,
      instances,
      stateDir,
      build,
      install: false,
      quiet: true,
      // A loaded machine (others' builds and tests) can take minutes to start a service.
      readyTimeoutMs: 300_000,
      log: (line) => log(`[network] ${line}`),
      step: (step) => log(`[network] -- ${step}`),
    });
  } catch (error) {
    await kafka.stop();
    await postgres?.stop();
    throw error;
  }
  const notReady = network.processes.filter((p) => p.status !== 'ready');
  if (notReady.length > 0) {
    await network.stop({ stopInfrastructure: false });
    await kafka.stop();
    await postgres?.stop();
    throw new Error(`not ready: ${notReady.map((p) => `${p.name} (${p.status})`).join(', ')}`);
  }
  return {
    network,
    kafka,
    postgres,
    stateDir,
    async stop() {
      await network.stop({ stopInfrastructure: false }).catch(() => undefined);
      await kafka.stop();
      await postgres?.stop();
    },
  };
}

/** A proxy that cuts one service off from a server (infra/lib/tcp-proxy.cjs). */
export const startCuttableProxy = ({ targetPort, targetHost = HOST }) =>
  tcpProxy.startTcpProxy({ host: targetHost, port: targetPort });

// ---------------------------------------------------------------------------------------------
// Small things

/** A semaphore: at most `max` functions run at once. */
export class Limiter {
  constructor(max) {
    this.max = max;
    this.active = 0;
    this.waiting = [];
  }
  async run(fn) {
    while (this.active >= this.max) await new Promise((resolve) => this.waiting.push(resolve));
    this.active += 1;
    try {
      return await fn();
    } finally {
      this.active -= 1;
      this.waiting.shift()?.();
    }
  }
}

/** Retries transient failures (no answer, 5xx, 429) with backoff until `deadline` (ms epoch). */
export async function withRetry(fn, { deadline, onRetry }) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      const status = error?.status ?? 0;
      const transient = status === 0 || status === 429 || status >= 500;
      if (!transient || Date.now() > deadline) throw error;
      onRetry?.(error);
      await sleep(Math.min(3000, 200 * 2 ** Math.min(attempt, 4)) * (0.5 + Math.random() / 2));
    }
  }
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/** Seeded PRNG (mulberry32), for plans that must be the same in every run. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The machine, for the record: cores, CPU model, memory, load average. */
export function machine() {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    model: cpus[0]?.model ?? 'unknown',
    memGiB: (os.totalmem() / 2 ** 30).toFixed(1),
    loadavg: os.loadavg().map((l) => l.toFixed(2)),
    node: process.version,
  };
}

/** CPU time (clock ticks) of the machine and of processes, from /proc (Linux; else zeros). */
export function cpuSnapshot(pids) {
  const read = (file) => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch {
      return '';
    }
  };
  const cpu = read('/proc/stat').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
  const total = cpu.reduce((sum, v) => sum + v, 0);
  // 1/100 s, as /proc/stat
  const ticksOf = (pid, options) => Math.round((cpuSecondsOf(pid, options) ?? 0) * 100);
  let ours = 0;
  for (const pid of pids) ours += ticksOf(pid);
  // Each server's postmaster with its children, the backends that ended since included (their
  // time is in its cutime): summing the live backends lost those of connections closed between
  // the two snapshots.
  const isPostgres = (pid) => read(`/proc/${pid}/comm`).trim().startsWith('postgres');
  let postgres = 0;
  for (const entry of fs.existsSync('/proc') ? fs.readdirSync('/proc') : []) {
    if (!/^\d+$/.test(entry) || !isPostgres(entry)) continue;
    if (!isPostgres(parentPidOf(entry))) postgres += ticksOf(Number(entry), { children: true });
  }
  return { at: Date.now(), total, busy: total - idle, ours, postgres };
}

/** Shares of the machine's CPU between two snapshots: busy, ours, PostgreSQL, the rest. */
export function cpuShares(a, b) {
  const total = Math.max(1, b.total - a.total);
  const pct = (v) => `${((100 * v) / total).toFixed(0)}%`;
  const busy = b.busy - a.busy;
  const ours = b.ours - a.ours;
  const postgres = b.postgres - a.postgres;
  return {
    busy: pct(busy),
    ours: pct(ours),
    postgres: pct(postgres),
    others: pct(Math.max(0, busy - ours - postgres)),
  };
}

export async function httpOk(url, timeoutMs = 2000) {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return response.ok;
  } catch {
    return false;
  }
}

/** A table of label / value rows. */
export function printTable(title, rows) {
  const width = Math.max(...rows.map(([label]) => label.length));
  console.log(`\n== ${title} ==`);
  for (const [label, value] of rows) console.log(`${label.padEnd(width)}  ${value}`);
}
