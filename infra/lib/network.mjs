// The whole CareRelay network on one machine, as `npm start` runs it and as the e2e suite starts
// it: dependencies -> Kafka + PostgreSQL -> build -> the platform's own SMART client (CLI) ->
// every service in dist/apps and the stand-in EHR servers (dist/tools) as its own process, each waited on at
// /health/ready -> demo seed (clients, directory) -> optionally the referral simulator and CBO
// bots. One place, networkEnv(), computes every app's environment.
//
// Plain Node ESM; packages (jose, kafkajs) are imported lazily, after ensureDependencies.
/* global AbortSignal, URLSearchParams */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';

import {
  ensureDependencies,
  ensureInfra,
  ensureKafkaJars,
  ROOT,
  STATE_DIR,
  stopInfra,
} from './infra.mjs';
import { startKafkaBroker } from './kafka.mjs';
import { npmCommand, runInherit } from './run.mjs';

/** Apps in dist/apps that are not long-running services (apps/ holds services only). */
export const NOT_SERVICES = new Set();

/** Tools (dist/tools) that run as part of the demo network, beside the services. */
export const NETWORK_TOOLS = ['ehr-server'];

export const DEFAULT_PORT_BASE = 8080;
export const PLATFORM_ORGANIZATION_ID = 'carerelay-platform';

/** The two demo hospitals; each gets a stand-in EHR FHIR server (tools/ehr-server). */
export const HOSPITALS = [
  { id: 'hosp-northside', name: 'Northside Community Hospital' },
  { id: 'hosp-southshore', name: 'South Shore Medical Center' },
];

/** Offsets from the port base (8080): the apps' own defaults. */
const PORT_OFFSETS = {
  'fhir-api': 0,
  'directory-service': 1,
  'referral-service': 2,
  'consent-service': 3,
  'followup-service': 4,
  'ehr-connector': 5,
  'analytics-service': 6,
  web: 7,
};
const EHR_SERVER_OFFSET = 10; // 8090, 8091: one per hospital
const OTHER_APPS_OFFSET = 20;
/** Each app's management listener (health, metrics): its API port + 40 (8120 for 8080, ...). */
const MANAGEMENT_OFFSET = 40;

/** Apps that call the FHIR API as the platform client: started once the FHIR API's auth is known. */
const PLATFORM_CLIENT_APPS = new Set(['referral-service', 'ehr-connector', 'directory-service']);

const HOST = '127.0.0.1';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const portVarOf = (app) => `${app.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}_PORT`;

// ---------------------------------------------------------------------------------------------
// What runs, where, with which environment

/** Where an app (dist/apps) or a network tool (dist/tools) has its compiled entry point. */
export const entryOf = (app, distDir = 'dist') =>
  path.join(distDir, NETWORK_TOOLS.includes(app) ? 'tools' : 'apps', app, 'src', 'main.js');

/** Every built service in dist/apps and network tool in dist/tools, in name order (fhir-api first). */
export function discoverApps(distDir = path.join(ROOT, 'dist')) {
  const appsDir = path.join(distDir, 'apps');
  if (!fs.existsSync(appsDir)) return [];
  return [...fs.readdirSync(appsDir).filter((name) => !NOT_SERVICES.has(name)), ...NETWORK_TOOLS]
    .filter((name) => fs.existsSync(entryOf(name, distDir)))
    .sort((a, b) => (a === 'fhir-api' ? -1 : b === 'fhir-api' ? 1 : a.localeCompare(b)));
}

/** Apps that have sources but no built entry point (not built, or still being written). */
export function missingApps(distDir = path.join(ROOT, 'dist')) {
  const sources = path.join(ROOT, 'apps');
  const built = new Set(discoverApps(distDir));
  return fs
    .readdirSync(sources)
    .filter((name) => !NOT_SERVICES.has(name) && !built.has(name))
    .filter((name) => fs.existsSync(path.join(sources, name, 'src')));
}

/**
 * The processes of the network: one per app, two for the stand-in EHR server (one per
 * hospital). Each has a name (log prefix), its entry point, its port.
 */
export function networkProcesses(apps, portBase = DEFAULT_PORT_BASE) {
  const processes = [];
  let other = 0;
  for (const app of apps) {
    const entry = entryOf(app);
    if (app === 'ehr-server') {
      HOSPITALS.forEach((hospital, i) => {
        processes.push({
          name: `ehr-server:${hospital.id}`,
          app,
          entry,
          port: portBase + EHR_SERVER_OFFSET + i,
          hospital: hospital.id,
        });
      });
      continue;
    }
    const offset = PORT_OFFSETS[app] ?? OTHER_APPS_OFFSET + other++;
    processes.push({
      name: app,
      app,
      entry,
      port: portBase + offset,
      managementPort: portBase + MANAGEMENT_OFFSET + offset,
    });
  }
  return processes;
}

export const fhirBaseUrlOf = (portBase = DEFAULT_PORT_BASE) =>
  `http://${HOST}:${portBase + PORT_OFFSETS['fhir-api']}/fhir`;

/**
 * The one place that computes the environment of every process of the network.
 * @param {object} o
 * @param {{KAFKA_BROKERS: string, DATABASE_URL: string}} o.infraEnv
 * @param {Array} o.processes from networkProcesses
 * @param {number} o.portBase
 * @param {{clientId: string, privateJwk: object}} [o.platform] the platform's SMART client
 * @param {'smart'|'dev'} [o.authMode] dev: the FHIR API runs with FHIR_AUTH_DISABLED=true
 * @param {{ehrCredentialsKey: string}} [o.secrets] the network's own secrets (ensureSecrets)
 * @returns {Record<string, Record<string, string>>} process name -> env (only CareRelay's variables)
 */
export function networkEnv({
  infraEnv,
  processes,
  portBase,
  platform,
  authMode = 'smart',
  secrets,
  webClients,
}) {
  const fhirBaseUrl = fhirBaseUrlOf(portBase);
  const portOf = (app) => processes.find((p) => p.app === app)?.port;
  const common = {
    KAFKA_BROKERS: infraEnv.KAFKA_BROKERS,
    DATABASE_URL: infraEnv.DATABASE_URL,
    LOG_LEVEL: process.env.LOG_LEVEL || 'info',
    NODE_ENV: process.env.NODE_ENV === 'test' ? 'test' : 'development',
    // The FHIR API: its public base (token audience) and where the other apps find it.
    FHIR_BASE_URL: fhirBaseUrl,
    // The same server as localhost: an integrator's assertion may name either token URL.
    FHIR_BASE_URL_ALIASES: fhirBaseUrl.replace('//127.0.0.1:', '//localhost:'),
    FHIR_API_BASE_URL: fhirBaseUrl,
    PLATFORM_ORGANIZATION_ID,
    FHIR_API_AUTH: authMode,
    CARERELAY_AUTH_MODE: authMode,
    ...(authMode === 'dev' ? { FHIR_AUTH_DISABLED: 'true' } : {}),
    ...(platform
      ? {
          PLATFORM_CLIENT_ID: platform.clientId,
          PLATFORM_PRIVATE_JWK: JSON.stringify(platform.privateJwk),
        }
      : {}),
  };
  // Where each app is, for apps that call one another over HTTP.
  for (const p of processes) {
    if (p.app !== 'ehr-server')
      common[`${portVarOf(p.app).replace(/_PORT$/, '_URL')}`] = `http://${HOST}:${p.port}`;
  }
  if (portOf('directory-service')) {
    common.DIRECTORY_SERVICE_URL = `http://${HOST}:${portOf('directory-service')}`;
  }
  const result = {};
  for (const p of processes) {
    const env = { ...common, [portVarOf(p.app)]: String(p.port) };
    // Health and metrics off the API's port, where only the operator looks (MANAGEMENT_*).
    if (p.managementPort) env.MANAGEMENT_PORT = String(p.managementPort);
    // The demo's directory: the sample the seeded CBO clients and bots belong to.
    if (p.app === 'directory-service') env.DIRECTORY_SEED_SAMPLE = 'true';
    // Encrypts the EHR endpoints' private keys at rest (ehr_endpoint_credentials).
    if (p.app === 'ehr-connector' && secrets) env.EHR_CREDENTIALS_KEY = secrets.ehrCredentialsKey;
    // The web app acts with its organizations' clients, which the FHIR API trusts to name the
    // signed-in person (X-On-Behalf-Of) in its AuditEvents; npm start seeds the demo people.
    if (p.app === 'web') {
      env.WEB_SEED_DEMO = 'true';
      env.WEB_FHIR_CLIENTS = JSON.stringify(
        (webClients ?? []).map(({ organizationId, role, clientId, privateJwk }) => ({
          organizationId,
          role,
          clientId,
          privateJwk,
        })),
      );
    }
    if (p.app === 'fhir-api' && webClients?.length)
      env.FHIR_ON_BEHALF_OF_CLIENTS = webClients.map((c) => c.clientId).join(',');
    if (p.app === 'ehr-server') {
      env.EHR_SERVER_HOST = HOST;
      env.EHR_SERVER_ORGANIZATION_ID = p.hospital;
    }
    result[p.name] = env;
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Build

const BUILD_STAMP = path.join(ROOT, 'dist', '.tsbuildinfo.build');
const BUILD_INPUTS = ['tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];

/**
 * Is dist/ newer than every source `npm run build` compiles (apps/**, libs/** .ts files other
 * than tests, the tsconfigs and the lockfile)? `startNetwork({ build: 'auto' })` skips the build
 * then. A deleted source file is not noticed: `npm start -- --build` forces a build.
 * @returns {{ fresh: boolean, reason: string }}
 */
export function distIsFresh(root = ROOT) {
  const stamp = root === ROOT ? BUILD_STAMP : path.join(root, 'dist', '.tsbuildinfo.build');
  let built;
  try {
    built = fs.statSync(stamp).mtimeMs;
  } catch {
    return { fresh: false, reason: 'never built' };
  }
  for (const file of BUILD_INPUTS) {
    try {
      if (fs.statSync(path.join(root, file)).mtimeMs > built)
        return { fresh: false, reason: `${file} changed` };
    } catch {
      // not there: nothing to compare
    }
  }
  const stack = ['apps', 'libs', 'tools'];
  let checked = 0;
  while (stack.length > 0 && checked < 20_000) {
    const dir = stack.pop();
    let entries;
    try {
      entries = fs.readdirSync(path.join(root, dir), { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      const rel = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules' && entry.name !== 'test') stack.push(rel);
        continue;
      }
      // .tsx and .css: the web app's single-page app, built by the same `npm run build`.
      if (!/\.(tsx?|css)$/.test(entry.name) || /\.(int-|browser-)?spec\.ts$/.test(entry.name))
        continue;
      checked += 1;
      if (fs.statSync(path.join(root, rel)).mtimeMs > built)
        return { fresh: false, reason: `${rel} changed` };
    }
  }
  return { fresh: true, reason: `dist is newer than the ${checked} sources` };
}

// ---------------------------------------------------------------------------------------------
// Processes

function portFree(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: HOST });
    socket.setTimeout(500, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

const LEVELS = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const LEVEL_NUMBERS = {
  TRACE: 10,
  DEBUG: 20,
  INFO: 30,
  WARN: 40,
  ERROR: 50,
  FATAL: 60,
  NOTHING: 30,
};
const NOT_SHOWN = new Set([
  'level',
  'time',
  'timestamp',
  'pid',
  'hostname',
  'service',
  'msg',
  'message',
  'context',
]);

/**
 * How an app's log line shows on the terminal (the log file keeps it as it came: JSON). JSON
 * lines become `LEVEL msg key=value ...`; unless `verbose`, the per-request and per-event lines
 * at info level (`msg: request`, lines with an `eventId`) stay in the file only.
 * @returns {string|undefined} undefined: not shown
 */
export function terminalLine(line, { verbose = false } = {}) {
  if (!line.startsWith('{')) return line;
  let entry;
  try {
    entry = JSON.parse(line);
  } catch {
    return line;
  }
  // pino's numeric levels; kafkajs's JSON lines name theirs (and say `message`).
  const level =
    typeof entry.level === 'string'
      ? (LEVEL_NUMBERS[entry.level.toUpperCase()] ?? 30)
      : Number(entry.level ?? 30);
  if (!verbose && level <= 30 && (entry.msg === 'request' || entry.eventId)) return undefined;
  const parts = [];
  if (level !== 30) parts.push(LEVELS[level] ?? `level ${level}`);
  if (entry.context) parts.push(`${entry.context}:`);
  const message = entry.msg ?? entry.message;
  if (message !== undefined) parts.push(String(message));
  for (const [key, value] of Object.entries(entry)) {
    if (NOT_SHOWN.has(key) || value === undefined || value === null) continue;
    let text = typeof value === 'object' ? JSON.stringify(value) : String(value);
    if (text.length > 300) text = `${text.slice(0, 300)}...`;
    parts.push(`${key}=${text}`);
  }
  return parts.join(' ');
}

function makeOutput(logDir, quiet, width, verbose = false) {
  fs.mkdirSync(logDir, { recursive: true });
  return (name, child) => {
    const file = fs.createWriteStream(path.join(logDir, `${name.replace(/:/g, '-')}.log`), {
      flags: 'a',
    });
    const recent = [];
    const prefix = `[${name}]`.padEnd(width + 2);
    const onLine = (stream) => (line) => {
      file.write(`${line}\n`);
      recent.push(line);
      if (recent.length > 40) recent.shift();
      if (quiet) return;
      const shown = terminalLine(line, { verbose });
      if (shown !== undefined) stream.write(`${prefix} ${shown}\n`);
    };
    readline.createInterface({ input: child.stdout }).on('line', onLine(process.stdout));
    readline.createInterface({ input: child.stderr }).on('line', onLine(process.stderr));
    child.once('exit', () => setTimeout(() => file.end(), 100));
    return { recent, file: file.path };
  };
}

function spawnNode(args, env, extra = {}) {
  return spawn(process.execPath, ['-r', './infra/lib/register-paths.cjs', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', ...(extra.ipc ? ['ipc'] : [])],
  });
}

async function httpGet(url, timeoutMs = 2000) {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const text = await response.text();
    return { status: response.status, text };
  } catch (error) {
    return { status: 0, text: error.cause?.code ?? error.message };
  }
}

/**
 * Waits until the process answers /health/ready (on its management listener) with 200. An app
 * without /health/ready (404) counts as ready once it answers HTTP at all, and says so.
 */
async function waitReady(proc, { timeoutMs }) {
  const started = Date.now();
  const url = `http://${HOST}:${proc.managementPort ?? proc.port}/health/ready`;
  let last = 'no answer yet';
  while (Date.now() - started < timeoutMs) {
    if (proc.exitCode !== undefined) {
      return { ok: false, reason: `exited with code ${proc.exitCode} during start-up` };
    }
    const answer = await httpGet(url);
    if (answer.status === 200) return { ok: true, ms: Date.now() - started, health: 'ready' };
    if (answer.status === 404) {
      return { ok: true, ms: Date.now() - started, health: 'answers (no /health/ready)' };
    }
    last = answer.status ? `HTTP ${answer.status} ${answer.text.slice(0, 200)}` : answer.text;
    await sleep(400);
  }
  return { ok: false, reason: `not ready after ${Math.round(timeoutMs / 1000)} s (${last})` };
}

// ---------------------------------------------------------------------------------------------
// The platform's own SMART client, registered with the CLI

async function runCliJson(args, env) {
  const child = spawn(process.execPath, ['infra/bin/cli.mjs', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`npm run cli -- ${args.join(' ')}: exit ${code}: ${err.trim()}`);
  return JSON.parse(out);
}

/**
 * The platform client of the Coordination Platform (role `platform`): an ES384 key pair kept in
 * <stateDir>/platform.json, its public JWKS registered with `npm run cli -- clients:add`. Reused
 * while the registration is active.
 */
export async function ensurePlatformClient({ stateDir, env, log }) {
  const file = path.join(stateDir, 'platform.json');
  const cliEnv = { DATABASE_URL: env.DATABASE_URL, FHIR_BASE_URL: env.FHIR_BASE_URL };
  if (fs.existsSync(file)) {
    const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
    const listed = await runCliJson(['clients:list'], cliEnv);
    if (listed.some((c) => c.client_id === saved.clientId && c.active && c.role === 'platform')) {
      log(`platform client ${saved.clientId} (reused, ${file})`);
      return saved;
    }
  }
  const { generateKeyPair, exportJWK } = await import('jose');
  const kid = `platform-${Date.now().toString(36)}`;
  const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'ES384', use: 'sig' };
  const publicJwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES384', use: 'sig' }] };
  fs.mkdirSync(path.join(stateDir, 'jwks'), { recursive: true });
  const jwksFile = path.join(stateDir, 'jwks', 'platform.jwks.json');
  fs.writeFileSync(jwksFile, `${JSON.stringify(publicJwks, null, 2)}\n`);
  const added = await runCliJson(
    ['clients:add', '--org', PLATFORM_ORGANIZATION_ID, '--role', 'platform', '--jwks', jwksFile],
    cliEnv,
  );
  const platform = {
    clientId: added.client_id,
    organizationId: PLATFORM_ORGANIZATION_ID,
    name: 'CareRelay Coordination Platform',
    role: 'platform',
    alg: 'ES384',
    privateJwk,
    publicJwks,
  };
  fs.writeFileSync(file, `${JSON.stringify(platform, null, 2)}\n`, { mode: 0o600 });
  log(
    `platform client ${platform.clientId} registered (npm run cli -- clients:add --role platform)`,
  );
  return platform;
}

/**
 * The network's own secrets, generated once and kept in <stateDir>/secrets.json (mode 600) next
 * to platform.json: EHR_CREDENTIALS_KEY (AES-256-GCM key of the ehr-connector's stored EHR
 * credentials). Delete the file to start over: stored EHR credentials then no longer decrypt.
 */
export async function ensureSecrets({ stateDir }) {
  const file = path.join(stateDir, 'secrets.json');
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8'));
  const { randomBytes } = await import('node:crypto');
  const secrets = { ehrCredentialsKey: randomBytes(32).toString('base64') };
  fs.writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  return secrets;
}

/**
 * The organizations whose people sign in to the demo's web app (apps/web/src/accounts/
 * demo-people.ts names the same): two CBOs and the coordinator.
 */
export const WEB_DEMO_ORGANIZATIONS = [
  { organizationId: 'org-0003', role: 'cbo' },
  { organizationId: 'org-0021', role: 'cbo' },
  { organizationId: 'cook-county-health', role: 'coordinator' },
];

/**
 * The web app's SMART clients, one per organization of WEB_DEMO_ORGANIZATIONS: ES384 keys kept
 * in <stateDir>/web-clients.json (mode 600), registered with the CLI before the apps start so
 * that the FHIR API knows them as trusted web apps (FHIR_ON_BEHALF_OF_CLIENTS). Reused while
 * every registration is active.
 */
export async function ensureWebClients({ stateDir, env, log }) {
  const file = path.join(stateDir, 'web-clients.json');
  const cliEnv = { DATABASE_URL: env.DATABASE_URL, FHIR_BASE_URL: env.FHIR_BASE_URL };
  if (fs.existsSync(file)) {
    const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
    const listed = await runCliJson(['clients:list'], cliEnv);
    const active = new Set(listed.filter((c) => c.active).map((c) => c.client_id));
    if (
      saved.length === WEB_DEMO_ORGANIZATIONS.length &&
      saved.every((c) => active.has(c.clientId))
    ) {
      log(`web clients ${saved.map((c) => c.clientId).join(', ')} (reused, ${file})`);
      return saved;
    }
  }
  const { generateKeyPair, exportJWK } = await import('jose');
  fs.mkdirSync(path.join(stateDir, 'jwks'), { recursive: true });
  const clients = [];
  for (const org of WEB_DEMO_ORGANIZATIONS) {
    const kid = `web-${org.organizationId}-${Date.now().toString(36)}`;
    const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
    const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'ES384', use: 'sig' };
    const publicJwks = {
      keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES384', use: 'sig' }],
    };
    const jwksFile = path.join(stateDir, 'jwks', `web-${org.organizationId}.jwks.json`);
    fs.writeFileSync(jwksFile, `${JSON.stringify(publicJwks, null, 2)}\n`);
    const added = await runCliJson(
      ['clients:add', '--org', org.organizationId, '--role', org.role, '--jwks', jwksFile],
      cliEnv,
    );
    clients.push({ ...org, clientId: added.client_id, privateJwk });
  }
  fs.writeFileSync(file, `${JSON.stringify(clients, null, 2)}\n`, { mode: 0o600 });
  log(
    `web clients registered for ${WEB_DEMO_ORGANIZATIONS.map((o) => o.organizationId).join(', ')}`,
  );
  return clients;
}

/**
 * Access tokens of the platform client (SMART Backend Services against the network's FHIR API),
 * for the calls the network makes to the services' own APIs (EHR endpoint registration) and for
 * tests. Cached until shortly before expiry.
 */
export function platformTokens({ fhirBaseUrl, platform }) {
  let cached;
  const token = async () => {
    if (cached && cached.expiresAt - 30_000 > Date.now()) return cached.token;
    const { SignJWT, importJWK } = await import('jose');
    const { randomUUID } = await import('node:crypto');
    const tokenUrl = `${fhirBaseUrl}/auth/token`;
    const alg = platform.privateJwk.kty === 'EC' ? 'ES384' : 'RS384';
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg, kid: platform.privateJwk.kid, typ: 'JWT' })
      .setIssuer(platform.clientId)
      .setSubject(platform.clientId)
      .setAudience(tokenUrl)
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime('4m')
      .sign(await importJWK(platform.privateJwk, alg));
    const response = await fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        scope: 'system/*.rs',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
      }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok || !body.access_token)
      throw new Error(`platform token: HTTP ${response.status} ${body.error ?? ''}`.trim());
    cached = { token: body.access_token, expiresAt: Date.now() + (body.expires_in ?? 300) * 1000 };
    return cached.token;
  };
  return {
    token,
    /** fetch with the platform's bearer token. */
    fetch: async (url, init = {}) =>
      fetch(url, {
        ...init,
        headers: { ...(init.headers ?? {}), authorization: `Bearer ${await token()}` },
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// Live summary from referral.events.v1

const SUMMARY_STATES = [
  'requested',
  'awaiting-consent',
  'routed',
  'accepted',
  'rejected',
  'rerouted',
  'in-progress',
  'on-hold',
  'completed',
  'cancelled',
  'failed',
];

/** Counts referrals by the states they reached, from referral.events.v1 (a throwaway group). */
export async function startSummary({ brokers, log }) {
  const { Kafka, logLevel } = (await import('kafkajs')).default;
  const kafka = new Kafka({
    clientId: 'carerelay-summary',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
  });
  const groupId = `carerelay-summary-${process.pid}-${Date.now().toString(36)}`;
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000 });
  const reached = new Map(); // referral id -> bit set of states
  const counts = Object.fromEntries(SUMMARY_STATES.map((s) => [s, 0]));
  const byId = new Map(); // referral id -> last state (for tests)
  const listeners = new Set();
  await consumer.connect();
  const joined = new Promise((resolve) => consumer.on(consumer.events.GROUP_JOIN, resolve));
  await consumer.subscribe({ topic: 'referral.events.v1', fromBeginning: false });
  await consumer.run({
    eachMessage: async ({ message }) => {
      try {
        const data = JSON.parse(message.value.toString());
        const bit = 1 << SUMMARY_STATES.indexOf(data.state);
        if (bit <= 0) return;
        const seen = reached.get(data.referralId) ?? 0;
        if (!(seen & bit)) counts[data.state] += 1;
        reached.set(data.referralId, seen | bit);
        byId.set(data.referralId, data);
        for (const listener of listeners) listener(data);
      } catch {
        // not ours to judge: the services validate their events
      }
    },
  });
  await Promise.race([joined, sleep(15_000)]);
  return {
    counts,
    lastEvent: (referralId) => byId.get(referralId),
    onEvent: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async stop() {
      await consumer.disconnect().catch(() => undefined);
      const admin = kafka.admin();
      await admin
        .connect()
        .then(() => admin.deleteGroups([groupId]))
        .catch(() => undefined)
        .finally(() => admin.disconnect().catch(() => undefined));
      log?.('summary consumer stopped');
    },
  };
}

export function summaryLine(counts, sim) {
  const sent = sim?.sent ?? counts.requested;
  const closed = counts.completed;
  const base = Math.max(counts.requested, 1);
  const rate = counts.requested ? `${Math.round((100 * closed) / base)}%` : '-';
  const parts = [
    `sent ${sent}`,
    `routed ${counts.routed}`,
    `accepted ${counts.accepted}`,
    `rejected ${counts.rejected}`,
    `closed ${closed}`,
    `closure rate ${rate}`,
  ];
  if (counts['awaiting-consent']) parts.push(`awaiting consent ${counts['awaiting-consent']}`);
  if (counts['on-hold'] || counts.failed)
    parts.push(`on-hold ${counts['on-hold']}, failed ${counts.failed}`);
  if (sim?.failed) parts.push(`send errors ${sim.failed}`);
  return parts.join(' | ');
}

// ---------------------------------------------------------------------------------------------
// The network

/**
 * Starts the whole network. Used by `npm start` (infra/bin/start.mjs) and by test/e2e.
 *
 * @param {object} o
 * @param {string} o.owner who starts the infrastructure (stopInfra stops only what it started)
 * @param {string} [o.database] database name (default: infra's, carerelay / carerelay_test)
 * @param {number} [o.portBase] 8080: fhir-api 8080, referral 8082, consent 8083, ...
 * @param {string} [o.stateDir] keys, clients, logs, network.json (default .carerelay/demo)
 * @param {boolean|'auto'} [o.build] run `npm run build` first: true always, false never, 'auto'
 *   (default) unless dist/ is newer than every source (distIsFresh)
 * @param {boolean} [o.install] ensureDependencies first (default true)
 * @param {boolean} [o.quiet] app logs to files only (default false: prefixed on the terminal)
 * @param {boolean} [o.verbose] the terminal shows every request and event line too
 * @param {boolean} [o.seed] seed the demo network (default true)
 * @param {boolean} [o.skipBacklog] test networks: the services' consumer groups start at the
 *   topics' end (skipConsumerBacklog), not behind everything earlier runs published
 * @param {(line: string) => void} [o.log]
 */
export async function startNetwork(o) {
  const started = Date.now();
  const portBase = o.portBase ?? DEFAULT_PORT_BASE;
  const stateDir = o.stateDir ?? path.join(STATE_DIR, 'demo');
  const log = o.log ?? ((line) => console.log(line));
  const step = o.step ?? (() => undefined);
  fs.mkdirSync(stateDir, { recursive: true });
  const network = {
    portBase,
    stateDir,
    fhirBaseUrl: fhirBaseUrlOf(portBase),
    processes: [],
    problems: [],
    authMode: 'smart',
    timings: {},
    infraEnv: undefined,
    summary: undefined,
    simulator: undefined,
    clients: undefined,
    platform: undefined,
    stop: async () => undefined,
  };
  let stopping = false;
  const mark = (name) => (network.timings[name] = Date.now() - started);

  network.stop = async ({ stopInfrastructure = true } = {}) => {
    if (stopping) return;
    stopping = true;
    // The simulator first, then the consumers, the FHIR API they call last.
    if (network.simulator) await stopProcess(network.simulator);
    await Promise.all(network.processes.filter((p) => p.app !== 'fhir-api').map(stopProcess));
    await Promise.all(network.processes.filter((p) => p.app === 'fhir-api').map(stopProcess));
    await network.summary?.stop();
    fs.rmSync(path.join(stateDir, 'network.json'), { force: true });
    if (stopInfrastructure) return stopInfra({ onlyIfStartedBy: o.owner, quiet: true });
    return [];
  };

  try {
    if (o.install !== false) {
      step('dependencies');
      await ensureDependencies();
    }
    step('infrastructure (Kafka, PostgreSQL)');
    network.infraEnv = await ensureInfra({
      owner: o.owner,
      ...(o.database ? { database: o.database } : {}),
    });
    mark('infra');
    log(`Kafka       ${network.infraEnv.KAFKA_BROKERS}`);
    log(`PostgreSQL  ${network.infraEnv.DATABASE_URL}`);
    if (o.skipBacklog) {
      const skipped = await skipConsumerBacklog(network.infraEnv.KAFKA_BROKERS);
      log(`consumer groups start at the topics' end (${skipped} earlier messages skipped)`);
    }

    const build = o.build ?? 'auto';
    const freshness = build === 'auto' ? distIsFresh() : undefined;
    if (build === true || (build === 'auto' && !freshness.fresh)) {
      step(`build${freshness ? ` (${freshness.reason})` : ''}`);
      const code = await runInherit(npmCommand, ['run', 'build'], {
        env: process.env,
      }).done;
      if (code !== 0) {
        network.problems.push(`npm run build exited with ${code}: starting what it emitted`);
        log(`!! npm run build reported errors (exit ${code}); starting what it emitted`);
      }
      mark('build');
    } else if (freshness) {
      log(`build       skipped: ${freshness.reason} (npm start -- --build forces one)`);
    }

    step('apps');
    const apps = discoverApps();
    for (const app of missingApps()) {
      network.problems.push(`${app}: not built (no dist/apps/${app}/src/main.js), not started`);
      log(`!! ${app}: has sources but no dist/apps/${app}/src/main.js: not started`);
    }
    if (!apps.includes('fhir-api')) throw new Error('apps/fhir-api is not built: nothing to run');
    const planned = networkProcesses(apps, portBase);
    const busy = [];
    for (const p of planned)
      for (const port of [p.port, p.managementPort].filter(Boolean))
        if (!(await portFree(port))) busy.push(`${p.name} :${port}`);
    if (busy.length > 0) {
      throw new Error(
        `ports in use: ${busy.join(', ')}. Is another network running (npm run status)? ` +
          `Another port base: --port-base <n> or CARERELAY_PORT_BASE.`,
      );
    }

    const baseEnv = networkEnv({ infraEnv: network.infraEnv, processes: planned, portBase });
    network.secrets = await ensureSecrets({ stateDir });
    network.platform = await ensurePlatformClient({
      stateDir,
      env: baseEnv['fhir-api'],
      log,
    });
    network.webClients = planned.some((p) => p.app === 'web')
      ? await ensureWebClients({ stateDir, env: baseEnv['fhir-api'], log })
      : [];
    mark('platform-client');
    network.platformTokens = platformTokens({
      fhirBaseUrl: network.fhirBaseUrl,
      platform: network.platform,
    });

    const width = Math.max(...planned.map((p) => p.name.length), 'simulator'.length);
    const output = makeOutput(path.join(stateDir, 'logs'), o.quiet, width, o.verbose);
    const envFor = (name) =>
      networkEnv({
        infraEnv: network.infraEnv,
        processes: planned,
        portBase,
        platform: network.platform,
        authMode: network.authMode,
        secrets: network.secrets,
        webClients: network.webClients,
      })[name];
    const launch = (p, envOverride = {}) => {
      const child = spawnNode([p.entry], { ...envFor(p.name), ...envOverride });
      const proc = {
        ...p,
        child,
        pid: child.pid,
        url: `http://${HOST}:${p.port}`,
        ...(p.managementPort ? { managementUrl: `http://${HOST}:${p.managementPort}` } : {}),
        status: 'starting',
        exitCode: undefined,
      };
      proc.logs = output(p.name, child);
      proc.exited = new Promise((resolve) =>
        child.once('exit', (code, signal) => {
          proc.exitCode = code ?? (signal ? `signal ${signal}` : 'unknown');
          if (!stopping && proc.status !== 'restarting') {
            proc.status = 'exited';
            const why = `${p.name} exited (${proc.exitCode})`;
            network.problems.push(why);
            log(`!! ${why}; last lines in ${proc.logs.file}`);
            o.onExit?.(proc);
          }
          resolve(proc.exitCode);
        }),
      );
      return proc;
    };
    const ready = async (proc) => {
      const result = await waitReady(proc, { timeoutMs: o.readyTimeoutMs ?? 120_000 });
      if (result.ok) {
        proc.status = 'ready';
        proc.health = result.health;
        proc.readyMs = result.ms;
        log(
          `ready       ${proc.name} ${proc.url} (${(result.ms / 1000).toFixed(1)} s, ${result.health})`,
        );
      } else {
        proc.status = proc.exitCode !== undefined ? 'exited' : 'not ready';
        network.problems.push(`${proc.name}: ${result.reason}`);
        log(`!! ${proc.name} ${result.reason}`);
        for (const line of proc.logs.recent.slice(-15))
          log(`   ${proc.name} | ${terminalLine(line, { verbose: true })}`);
      }
      return result.ok;
    };

    // Every app at once (they wait for the FHIR API themselves: its outages are transient to
    // them). Once the FHIR API is ready we know whether it serves SMART Backend Services; if it
    // does not, it and the apps that call it as the platform client start again in dev mode.
    const all = planned.map(launch);
    network.processes.push(...all);
    const fhirApi = all.find((p) => p.app === 'fhir-api');
    const readiness = new Map(all.filter((p) => p !== fhirApi).map((p) => [p, ready(p)]));
    if (!(await ready(fhirApi))) throw new Error('fhir-api did not start: see its log above');
    const smart = await httpGet(`${network.fhirBaseUrl}/.well-known/smart-configuration`);
    if (smart.status !== 200) {
      log(
        `!! fhir-api does not serve SMART Backend Services (/.well-known/smart-configuration: ${smart.status || smart.text}); ` +
          'restarting it with FHIR_AUTH_DISABLED=true (development actors, X-Dev-Actor)',
      );
      network.problems.push('fhir-api without SMART auth: running with FHIR_AUTH_DISABLED=true');
      network.authMode = 'dev';
      const relaunch = async (proc) => {
        proc.status = 'restarting';
        await stopProcess(proc);
        const again = launch(proc);
        network.processes[network.processes.indexOf(proc)] = again;
        return again;
      };
      const again = await relaunch(fhirApi);
      if (!(await ready(again))) throw new Error('fhir-api did not start again');
      for (const proc of [...readiness.keys()]) {
        if (!PLATFORM_CLIENT_APPS.has(proc.app)) continue;
        await readiness.get(proc);
        readiness.delete(proc);
        const restarted = await relaunch(proc);
        readiness.set(restarted, ready(restarted));
      }
    }
    await Promise.all(readiness.values());
    mark('apps-ready');
    writeNetworkFile(network, o.owner);

    // For resilience tests: kill one process of the running network (SIGKILL by default, no
    // clean shutdown) and start it again with the same environment (plus `env`, e.g. a database
    // URL through a proxy the test controls), waited on at /health/ready.
    network.killProcess = async (name, signal = 'SIGKILL') => {
      const proc = network.processes.find((p) => p.name === name);
      if (!proc) throw new Error(`no process ${name} in the network`);
      proc.status = 'restarting';
      if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill(signal);
      await proc.exited;
      return proc;
    };
    network.restartProcess = async (name, env = {}) => {
      const index = network.processes.findIndex((p) => p.name === name);
      if (index < 0) throw new Error(`no process ${name} in the network`);
      const again = launch(network.processes[index], env);
      network.processes[index] = again;
      writeNetworkFile(network, o.owner);
      const ok = await ready(again);
      writeNetworkFile(network, o.owner);
      return { ok, proc: again };
    };

    if (o.seed !== false) {
      step('demo network (clients, directory)');
      await seedDemo(network, { output, log });
      await registerEhrEndpoints(network, { log });
      mark('seeded');
    }
    try {
      network.summary = await startSummary({ brokers: network.infraEnv.KAFKA_BROKERS });
    } catch (error) {
      network.problems.push(`live summary unavailable: ${error.message}`);
      log(`!! live summary unavailable: ${error.message}`);
    }
    network.startSimulator = (options = {}) => {
      const args = [
        'dist/tools/simulator/src/main.js',
        'run',
        '--state-dir',
        stateDir,
        '--rate',
        String(options.rate ?? 2),
        ...(options.args ?? []),
      ];
      const child = spawnNode(
        args,
        { ...envFor('fhir-api'), EHR_SERVERS: JSON.stringify(network.ehrServers ?? {}) },
        { ipc: true },
      );
      const sim = { name: 'simulator', child, pid: child.pid, stats: undefined };
      sim.logs = output('simulator', child);
      child.on('message', (message) => {
        if (message?.kind === 'stats') sim.stats = message;
      });
      sim.exited = new Promise((resolve) => child.once('exit', resolve));
      network.simulator = sim;
      writeNetworkFile(network, o.owner);
      return sim;
    };
    mark('ready');
    return network;
  } catch (error) {
    await network.stop();
    throw error;
  }
}

async function seedDemo(network, { output, log }) {
  const apps = new Set(network.processes.map((p) => p.app));
  const hasDirectoryService = apps.has('directory-service');
  const env = networkEnv({
    infraEnv: network.infraEnv,
    processes: network.processes,
    portBase: network.portBase,
    platform: network.platform,
    authMode: network.authMode,
  })['fhir-api'];
  const args = [
    'dist/tools/simulator/src/main.js',
    'seed',
    '--state-dir',
    network.stateDir,
    '--platform',
    path.join(network.stateDir, 'platform.json'),
    // Until apps/directory-service exists, the seed publishes the sample directory itself.
    ...(hasDirectoryService ? [] : ['--publish-directory', '--load-fhir-directory']),
  ];
  const child = spawnNode(args, {
    ...env,
    FHIR_DB_SCHEMA: process.env.FHIR_DB_SCHEMA || 'fhir_api',
  });
  const logs = output('seed', child);
  const code = await new Promise((resolve) => child.once('exit', resolve));
  if (code !== 0) {
    for (const line of logs.recent.slice(-15)) log(`   seed | ${line}`);
    throw new Error(`seeding the demo network failed (exit ${code})`);
  }
  network.clients = JSON.parse(
    fs.readFileSync(path.join(network.stateDir, 'clients.json'), 'utf8'),
  ).clients;
}

/** How each demo hospital's referrals travel (see tools/simulator, EHR_SERVERS). */
const EHR_MODES = { 'hosp-northside': 'push', 'hosp-southshore': 'pull' };

/**
 * Registers each hospital's stand-in EHR server with the ehr-connector (PUT /ehr-endpoints/<id>):
 * Northside sends its referrals itself and gets status pushed back; South Shore's are pulled from
 * its server (and pushed back too). Skipped, and said so, when either app is not running.
 */
async function registerEhrEndpoints(network, { log }) {
  const connector = network.processes.find(
    (p) => p.app === 'ehr-connector' && p.status === 'ready',
  );
  const servers = network.processes.filter((p) => p.app === 'ehr-server' && p.status === 'ready');
  network.ehrServers = {};
  if (!connector || servers.length === 0) {
    log(
      'EHR servers: not registered (ehr-connector or ehr-server not running): referrals go directly to the FHIR API',
    );
    return;
  }
  for (const server of servers) {
    const mode = EHR_MODES[server.hospital] ?? 'push';
    const baseUrl = `${server.url}/fhir`;
    const body = {
      id: server.hospital,
      organizationId: server.hospital,
      baseUrl,
      auth: 'none',
      modes: mode === 'pull' ? ['pull', 'push'] : ['push'],
      ...(mode === 'pull'
        ? {
            pollIntervalSeconds: 2,
            platformOwnerReference: `Organization/${PLATFORM_ORGANIZATION_ID}`,
          }
        : {}),
    };
    try {
      // The connector's API takes the platform's (or an operator's) token only.
      const response = await network.platformTokens.fetch(
        `${connector.url}/ehr-endpoints/${server.hospital}`,
        {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        },
      );
      if (!response.ok)
        throw new Error(`HTTP ${response.status} ${(await response.text()).slice(0, 300)}`);
      network.ehrServers[server.hospital] = { baseUrl, mode };
      log(
        `EHR server  ${server.hospital} ${baseUrl} registered with the ehr-connector (${body.modes.join(', ')})`,
      );
    } catch (error) {
      network.problems.push(`EHR endpoint ${server.hospital}: ${error.message}`);
      log(`!! EHR endpoint ${server.hospital} not registered: ${error.message}`);
    }
  }
}

async function stopProcess(proc, timeoutMs = 10_000) {
  const child = proc.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', resolve);
  });
  clearTimeout(timer);
}

function postgresHostPort(url) {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}`;
  } catch {
    return undefined;
  }
}

/** <stateDir>/network.json: what runs, for `npm run status`. */
export function writeNetworkFile(network, owner) {
  const data = {
    owner,
    pid: process.pid,
    startedAt: new Date().toISOString(),
    fhirBaseUrl: network.fhirBaseUrl,
    authMode: network.authMode,
    // The broker and database server this network uses, for `npm run status`.
    kafkaBrokers: network.infraEnv?.KAFKA_BROKERS,
    postgres: postgresHostPort(network.infraEnv?.DATABASE_URL),
    // For the CLI run beside it (the file is the owner's only: the URL may hold a password).
    databaseUrl: network.infraEnv?.DATABASE_URL,
    processes: [...network.processes, ...(network.simulator ? [network.simulator] : [])].map(
      (p) => ({
        name: p.name,
        pid: p.pid,
        port: p.port,
        url: p.url,
        managementUrl: p.managementUrl,
        status: p.status,
      }),
    ),
  };
  fs.writeFileSync(
    path.join(network.stateDir, 'network.json'),
    `${JSON.stringify(data, null, 2)}\n`,
    { mode: 0o600 },
  );
}

// ---------------------------------------------------------------------------------------------
// Test networks on a shared broker

/** The services' standing consumer groups and the catalog topics they read. */
const SERVICE_GROUPS = [
  'referral-service',
  'consent-service',
  'followup-service',
  'analytics-service',
  'directory-service-fhir',
  'ehr-connector',
  'fhir-api-subscriptions',
];
const CATALOG_TOPICS = [
  'fhir.changes.v1',
  'referral.events.v1',
  'consent.events.v1',
  'followup.events.v1',
  'directory.events.v1',
];

/**
 * For a test network on a broker that other runs have used: moves every service group's position
 * to the end of each catalog topic before the services start, so they do not first work through
 * what earlier runs published (thousands of events, each of another run's schema). Production
 * never does this: a new deployment reads its topics from the beginning.
 */
async function skipConsumerBacklog(brokers) {
  const { Kafka, logLevel } = (await import('kafkajs')).default;
  const admin = new Kafka({
    clientId: 'carerelay-test-network',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  let skipped = 0;
  try {
    const existing = new Set(await admin.listTopics());
    for (const topic of CATALOG_TOPICS.filter((t) => existing.has(t))) {
      const ends = await admin.fetchTopicOffsets(topic);
      for (const groupId of SERVICE_GROUPS) {
        const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
        for (const end of ends) {
          const at = Number(
            committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? -1,
          );
          skipped += Math.max(0, Number(end.high) - Math.max(at, Number(end.low)));
        }
        // A group with live members (another network still running) keeps its position.
        await admin
          .setOffsets({
            groupId,
            topic,
            partitions: ends.map((end) => ({ partition: end.partition, offset: end.high })),
          })
          .catch(() => undefined);
      }
    }
  } finally {
    await admin.disconnect();
  }
  return skipped;
}

// ---------------------------------------------------------------------------------------------
// A private Kafka broker (benchmarks, isolated test runs)

/**
 * A Kafka broker of its own (infra/lib/kafka.mjs startKafkaBroker) from the cached jars of
 * .carerelay/kafka/libs, on `port` (controller on port + 1) with its data in `dir`, so that it
 * disturbs neither the shared broker nor its state file. `fresh` wipes the data first.
 */
export async function startPrivateKafka({ dir, port, fresh = false, log = () => undefined }) {
  if (!(await portFree(port)) || !(await portFree(port + 1))) {
    throw new Error(`port ${port} or ${port + 1} is taken: another private Kafka runs there?`);
  }
  await ensureKafkaJars({ log: { info: log, action: log, warn: log } });
  return startKafkaBroker({ dir, port, fresh, log });
}
