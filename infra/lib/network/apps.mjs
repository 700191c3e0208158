// What runs, where, with which environment: the network's apps (dist/apps) and tools (dist/tools),
// their ports, the one place that computes every process's environment (networkEnv), and whether
// dist/ is newer than its sources.
import fs from 'node:fs';
import path from 'node:path';

import { HOST, ROOT } from '../common.mjs';

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
/** A service's further instances (scale-out): instance k at its ports + 200 × (k - 1). */
const INSTANCE_STRIDE = 200;

/** Apps that call the FHIR API as the platform client: started once the FHIR API's auth is known. */
export const PLATFORM_CLIENT_APPS = new Set([
  'referral-service',
  'ehr-connector',
  'directory-service',
]);

const portVarOf = (app) => `${app.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}_PORT`;

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
 * Node flags of an app's process. Semi-spaces of 2 MiB instead of V8's up to 16 MiB: about 25 MiB
 * less resident per process (bench:footprint at 2 referrals/s: the apps' peak 1,615 → 1,401 MiB)
 * at no CPU cost measurable at the demo's rate. The FHIR API keeps V8's default: at intake rates
 * the larger young generation saves it 1 to 2 ms of CPU per Bundle (bench:fhir).
 */
export const nodeFlagsOf = (app) => (app === 'fhir-api' ? [] : ['--max-semi-space-size=2']);

/**
 * The processes of the network: one per app (`instances` per service when scaled out: the
 * second is named `<app>-2`), two for the stand-in EHR server (one per hospital). Each has a
 * name (log prefix), its entry point, its port.
 */
export function networkProcesses(apps, portBase = DEFAULT_PORT_BASE, { instances = 1 } = {}) {
  const processes = [];
  let other = 0;
  const firsts = [];
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
    const first = {
      name: app,
      app,
      instance: 1,
      entry,
      port: portBase + offset,
      managementPort: portBase + MANAGEMENT_OFFSET + offset,
    };
    processes.push(first);
    firsts.push(first);
  }
  // Further instances after every first one, as a second machine would run them.
  for (let k = 2; k <= instances; k++)
    for (const first of firsts) {
      const shift = INSTANCE_STRIDE * (k - 1);
      processes.push({
        ...first,
        name: `${first.app}-${k}`,
        instance: k,
        port: first.port + shift,
        managementPort: first.managementPort + shift,
      });
    }
  return processes;
}

/**
 * The connection pools of one instance of a service, as the services' configs set them
 * (ServiceConfig DB_POOL_SIZE, FHIR_DB_POOL_SIZE, EHR_CONNECTOR_DB_POOL_SIZE with the
 * connector's PUSH_CONCURRENCY lanes, which must leave it POOL_CONNECTIONS_BESIDE_PUSH).
 */
const ONE_INSTANCE_POOLS = {
  DB_POOL_SIZE: 10,
  FHIR_DB_POOL_SIZE: 20,
  EHR_CONNECTOR_DB_POOL_SIZE: 24,
};
const ONE_INSTANCE_PUSH_LANES = 16;
const CONNECTOR_CONNECTIONS_BESIDE_PUSH = 6;

/**
 * Scaled out, every instance of a service shares the one PostgreSQL server's max_connections (100
 * by default): with the pools of one instance each, two instances of every service held 99
 * connections at once in `bench:loop --instances 2`, and the rest were refused ("too many
 * clients", 53300) with the steps and requests that needed them. Each of `instances` instances
 * gets its share of each pool, as an operator would size them for one server. A variable set in
 * the environment (`env`) is kept.
 * @returns {Record<string, string>} the pool variables of one instance of `app`
 */
export function scaledOutPools(app, instances, env = process.env) {
  if (instances <= 1 || app === 'ehr-server') return {};
  const share = (size) => Math.max(2, Math.ceil(size / instances));
  const pools = { DB_POOL_SIZE: share(ONE_INSTANCE_POOLS.DB_POOL_SIZE) };
  if (app === 'fhir-api') pools.FHIR_DB_POOL_SIZE = share(ONE_INSTANCE_POOLS.FHIR_DB_POOL_SIZE);
  if (app === 'ehr-connector') {
    const pool = Math.max(
      CONNECTOR_CONNECTIONS_BESIDE_PUSH + 1,
      share(ONE_INSTANCE_POOLS.EHR_CONNECTOR_DB_POOL_SIZE),
    );
    pools.EHR_CONNECTOR_DB_POOL_SIZE = pool;
    pools.PUSH_CONCURRENCY = Math.min(
      share(ONE_INSTANCE_PUSH_LANES),
      pool - CONNECTOR_CONNECTIONS_BESIDE_PUSH,
    );
  }
  return Object.fromEntries(
    Object.entries(pools)
      .filter(([name]) => env[name] === undefined)
      .map(([name, value]) => [name, String(value)]),
  );
}

/** `<APP>_URL` of each of these processes (not the stand-in EHRs): where the others call it. */
const serviceUrlsOf = (processes) =>
  Object.fromEntries(
    processes
      .filter((p) => p.app !== 'ehr-server')
      .map((p) => [portVarOf(p.app).replace(/_PORT$/, '_URL'), `http://${HOST}:${p.port}`]),
  );

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
  // Where each app is, for apps that call one another over HTTP: the first instances.
  Object.assign(common, serviceUrlsOf(processes.filter((p) => (p.instance ?? 1) === 1)));
  if (portOf('directory-service')) {
    common.DIRECTORY_SERVICE_URL = `http://${HOST}:${portOf('directory-service')}`;
  }
  const instances = Math.max(1, ...processes.map((p) => p.instance ?? 1));
  const result = {};
  for (const p of processes) {
    const env = {
      ...common,
      [portVarOf(p.app)]: String(p.port),
      ...scaledOutPools(p.app, instances),
    };
    // A further instance calls the services of its own instance, as on a machine of its own. The
    // FHIR API keeps one public base (the token audience, the base of every reference), which
    // stands for the address a load balancer would give both instances: every service calls it
    // there. A client may also call a further FHIR API instance directly: its own address is an
    // alias of the one base.
    if ((p.instance ?? 1) > 1) {
      Object.assign(
        env,
        serviceUrlsOf(
          processes.filter((peer) => peer.instance === p.instance && peer.app !== 'fhir-api'),
        ),
      );
      if (p.app === 'fhir-api')
        env.FHIR_BASE_URL_ALIASES = [common.FHIR_BASE_URL_ALIASES, `http://${HOST}:${p.port}/fhir`]
          .filter(Boolean)
          .join(',');
    }
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
