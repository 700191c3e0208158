// The one Kafka broker starter and the one broker probe. The shared broker of npm start,
// npm test and infra:up (infra.mjs) and the private brokers of the benchmarks and the resilience
// harness (network/private-kafka.mjs startPrivateKafka) are the same single-node KRaft broker,
// run from the cached jars of .carerelay/kafka/libs, differing only in port, data directory and
// lifetime.
//
// Plain Node ESM; kafkajs is imported lazily (this file loads before node_modules exists).
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { HOST, ROOT, sleep } from './common.mjs';

export const KAFKA_LIBS = path.join(ROOT, '.carerelay', 'kafka', 'libs');
export const KAFKA_LOG4J = path.join(ROOT, 'infra', 'kafka', 'log4j2.properties');

/**
 * Does a broker answer at `brokers` (comma-separated host:port)? Asks for the cluster; never
 * logs, never retries.
 * @returns {Promise<{ok: true, clusterId: string, brokers: number} | {ok: false, error: string}>}
 */
export async function kafkaAnswers(brokers, timeoutMs = 3000) {
  const { Kafka, logLevel } = (await import('kafkajs')).default;
  const admin = new Kafka({
    clientId: 'carerelay-infra-probe',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
    connectionTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return { ok: true, clusterId: cluster.clusterId, brokers: cluster.brokers.length };
  } catch (err) {
    return { ok: false, error: err.message };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Waits until `brokers` answers. `alive()` (when given) says whether the broker process still
 * runs: once it has exited there is nothing to wait for.
 */
export async function waitForKafka(
  brokers,
  { timeoutMs = 60_000, intervalMs = 500, alive = () => true, what = 'Kafka', hint = () => '' },
) {
  const started = Date.now();
  let last = 'no answer yet';
  while (Date.now() - started < timeoutMs) {
    if (!alive()) throw new Error(`${what} exited during start-up.${hint()}`);
    const answer = await kafkaAnswers(brokers, Math.min(3000, timeoutMs));
    if (answer.ok) return { ...answer, waitedMs: Date.now() - started };
    last = answer.error;
    await sleep(intervalMs);
  }
  throw new Error(
    `${what} at ${brokers} did not answer within ${Math.round(timeoutMs / 1000)} s (${last}).${hint()}`,
  );
}

/** server.properties of a single-node KRaft broker (controller on its own port). */
export function kafkaServerProperties({ port, controllerPort = port + 1, dataDir }) {
  return `# Written by infra/lib/kafka.mjs on every start: edit that file, not this one.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${HOST}:${controllerPort}
listeners=PLAINTEXT://${HOST}:${port},CONTROLLER://${HOST}:${controllerPort}
advertised.listeners=PLAINTEXT://${HOST}:${port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=${dataDir}

# Single node: every internal topic has one replica.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1

# Topics are created explicitly by the services, never by a typo.
auto.create.topics.enable=false
num.partitions=3
group.initial.rebalance.delay.ms=0

# Small footprint for laptops and CI runners.
num.network.threads=2
num.io.threads=4
log.retention.hours=168
log.segment.bytes=104857600
# The log cleaner (compacting __consumer_offsets) allocates this up front: 128 MiB by default.
log.cleaner.dedupe.buffer.size=8388608
# The controller appends a no-op record to the metadata log every 500 ms by default, so that
# brokers see the log move; one node has no other broker to tell (idle broker: 2.4-3.0 % of a
# core at the default, 1.8-2.0 % at 30 s).
metadata.max.idle.interval.ms=30000
`;
}

/** A new cluster id, shaped like Kafka's Uuid.randomUuid() and never starting with '-'. */
export function newKafkaClusterId() {
  let id;
  do id = crypto.randomBytes(16).toString('base64url');
  while (id.startsWith('-'));
  return id;
}

const java = (args, options) => spawn('java', args, options);

/** Formats the data directory of `properties` (kafka-storage format), unless it is already. */
export async function formatKafkaStorage({ dir, properties, clusterId = newKafkaClusterId() }) {
  const format = java(
    [
      '-cp',
      path.join(KAFKA_LIBS, '*'),
      `-Dlog4j2.configurationFile=${KAFKA_LOG4J}`,
      'kafka.tools.StorageTool',
      'format',
      '--ignore-formatted',
      '-t',
      clusterId,
      '-c',
      properties,
    ],
    { cwd: dir, stdio: 'ignore' },
  );
  const code = await new Promise((resolve) => format.once('exit', resolve));
  if (code !== 0) throw new Error(`Kafka storage format exited with ${code}`);
}

/**
 * Runs the broker of `properties`, its output appended to `logFile`. `detached`: it outlives this
 * process (the shared broker); otherwise it is this process's child (a private broker).
 */
export function launchKafka({ dir, properties, logFile, detached = false }) {
  const out = fs.openSync(logFile, 'a');
  fs.writeSync(out, `\n===== ${new Date().toISOString()} starting Kafka =====\n`);
  const child = java(
    [
      // The serial collector: a single node's heap stays small, and G1's regions, remembered
      // sets and parallel threads cost more memory than its pauses save here. The heap grows
      // from 32 MiB as the broker needs it, up to the same ceiling as before.
      '-Xms32m',
      '-Xmx512m',
      '-XX:+UseSerialGC',
      '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=${KAFKA_LOG4J}`,
      '-cp',
      path.join(KAFKA_LIBS, '*'),
      'kafka.Kafka',
      properties,
    ],
    { cwd: dir, detached, stdio: ['ignore', out, out] },
  );
  fs.closeSync(out);
  if (detached) child.unref();
  return child;
}

/**
 * A private broker: on `port` (controller on `port + 1`), data under `dir` (wiped when `fresh`),
 * a child of this process. `startMs` is from the storage format to the first answer. `stop()`
 * ends it (SIGTERM, then SIGKILL after 20 s), `kill()` is kill -9 (a crash), `restart()` starts
 * it again on the same data (log recovery) and resolves with the ms until it answered.
 */
export async function startKafkaBroker({ dir, port, fresh = false, log = () => undefined }) {
  const brokers = `${HOST}:${port}`;
  const started = Date.now();
  const dataDir = path.join(dir, 'data');
  if (fresh) fs.rmSync(dataDir, { recursive: true, force: true });
  fs.mkdirSync(dataDir, { recursive: true });
  const properties = path.join(dir, 'server.properties');
  fs.writeFileSync(properties, kafkaServerProperties({ port, dataDir }));
  // Already formatted (a run before this one, not --fresh): formatting again with a new cluster
  // id is refused by the storage tool.
  if (!fs.existsSync(path.join(dataDir, 'meta.properties'))) {
    await formatKafkaStorage({ dir, properties });
  }
  const logFile = path.join(dir, 'kafka.log');
  let child;
  let exited;
  // A broker restarted after kill -9 first recovers every partition's log: on a loaded machine
  // that alone can take minutes, so a restart is given longer than a fresh start.
  const launch = async ({ timeoutMs = 60_000 } = {}) => {
    const launchedAt = Date.now();
    child = launchKafka({ dir, properties, logFile });
    exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await waitForKafka(brokers, {
        timeoutMs,
        intervalMs: 250,
        alive: () => child.exitCode === null && child.signalCode === null,
        what: `private Kafka (pid ${child.pid})`,
        hint: () => ` See ${logFile}`,
      });
    } catch (error) {
      await stop();
      throw error;
    }
    return Date.now() - launchedAt;
  };
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  };
  await launch();
  const startMs = Date.now() - started;
  log(`private Kafka at ${brokers} (pid ${child.pid}) in ${(startMs / 1000).toFixed(1)} s`);
  return {
    brokers,
    get pid() {
      return child.pid;
    },
    startMs,
    stop,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
    /** Starts the broker again on its data (as after a crash); `timeoutMs` default 5 min. */
    restart: ({ timeoutMs = 300_000 } = {}) => launch({ timeoutMs }),
  };
}
