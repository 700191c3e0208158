import { generateKeyPairSync, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { PATH_METADATA } from '@nestjs/common/constants';
import { CALLERS, routePoliciesOf, type Caller, type RoutePolicy } from '@carerelay/auth';
import { SmartBackendTokenSource } from '@carerelay/fhir-client';
import { SCOPES_BY_ROLE, tokenUrlOf, type DemoClient } from '../../tools/simulator/src/credentials';
import { loadCheckoutModule } from '../support/started-network';

/**
 * The service APIs under attack, on a network started as `npm start` starts it
 * (infra/lib/network.mjs): every HTTP route of every service (enumerated from the controllers in
 * the sources, so a new route is attacked too) refuses a caller without a token, with a bad or
 * forged token, and with a real token of a role the route does not admit; nothing the refused
 * requests asked for is written. The ehr-connector takes no key file, sends no assertion to
 * another origin, and its errors never carry what a remote server or a file held.
 */

const ROOT = path.join(__dirname, '..', '..');
const PORT_BASE = Number(
  process.env.CARERELAY_SECURITY_PORT_BASE ?? process.env.CARERELAY_E2E_PORT_BASE ?? 19080,
);
/** A string no honest answer holds: what a hostile server or file carries. */
const MARKER = `sec-marker-${randomUUID()}`;

interface NetworkProcess {
  name: string;
  app: string;
  url: string;
  managementUrl?: string;
  status: string;
}
interface Network {
  fhirBaseUrl: string;
  processes: NetworkProcess[];
  clients: DemoClient[];
  platformTokens: { fetch: typeof fetch; token: () => Promise<string> };
  stop: (options?: { stopInfrastructure?: boolean }) => Promise<unknown>;
}

const loadNetworkModule = () =>
  loadCheckoutModule<{ startNetwork: (o: Record<string, unknown>) => Promise<Network> }>(
    'infra/lib/network.mjs',
  );

/** Every source file of `dir` (recursively) that declares a Nest controller. */
function controllerFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...controllerFiles(full));
    else if (
      entry.name.endsWith('.ts') &&
      !/\.(int-|e2e-|sec-)?spec\.ts$/.test(entry.name) &&
      fs.readFileSync(full, 'utf8').includes('@Controller(')
    )
      found.push(full);
  }
  return found;
}

/** The HTTP routes each service app declares (libs' controllers, health and metrics, included). */
function routesByApp(apps: string[]): Map<string, RoutePolicy[]> {
  const shared = controllerFiles(path.join(ROOT, 'libs'));
  const byApp = new Map<string, RoutePolicy[]>();
  for (const app of apps) {
    const routes: RoutePolicy[] = [];
    for (const file of [...controllerFiles(path.join(ROOT, 'apps', app, 'src')), ...shared]) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const exports = require(file) as Record<string, unknown>;
      for (const value of Object.values(exports)) {
        // Nest controller classes only: a controller file may also export plain functions.
        if (typeof value === 'function' && Reflect.hasMetadata(PATH_METADATA, value))
          routes.push(...routePoliciesOf(value as never));
      }
    }
    byApp.set(app, routes);
  }
  return byApp;
}

/**
 * Routes a remote server calls without an access token of the FHIR API, authenticated by a
 * secret of their own instead (@Public to the service guard): an EHR's Subscription notifications
 * carry the endpoint's channel secret. They are attacked as the token routes are (401).
 */
const SECRET_ROUTES = new Set(['ehr-connector POST /ehr-notifications/:endpointId']);
const bySecret = (app: string, route: RoutePolicy): boolean =>
  SECRET_ROUTES.has(`${app} ${route.method} ${route.path}`);

const concrete = (routePath: string): string => routePath.replace(/:[A-Za-z]+/g, 'sec-probe-1');

/** What an attacker would send to each write route. */
function attackBody(route: RoutePolicy): unknown {
  if (route.path.startsWith('/ehr-endpoints'))
    return {
      organizationId: 'hosp-northside',
      baseUrl: 'http://127.0.0.1:9/attacker/fhir',
      auth: 'none',
      modes: ['pull'],
    };
  if (route.path === '/organizations' || route.path.startsWith('/organizations/'))
    return { id: 'sec-probe-1', name: 'Attacker Org', networks: ['x'] };
  return { id: 'sec-probe-1', note: 'attack', at: new Date().toISOString() };
}

let network: Network;
let byApp: Map<string, RoutePolicy[]>;
const tokenOf = new Map<string, () => Promise<string>>();
let forged: string;

const urlOf = (app: string): string => {
  const proc = network.processes.find((p) => p.app === app && p.status === 'ready');
  if (!proc) throw new Error(`${app} is not running`);
  return proc.url;
};

async function call(
  app: string,
  route: RoutePolicy,
  authorization?: string,
): Promise<{ status: number; type: string | null; challenge: string | null; text: string }> {
  const write = ['POST', 'PUT', 'PATCH'].includes(route.method);
  const response = await fetch(`${urlOf(app)}${concrete(route.path)}`, {
    method: route.method,
    headers: {
      ...(authorization ? { authorization } : {}),
      ...(write ? { 'content-type': 'application/json' } : {}),
    },
    body: write ? JSON.stringify(attackBody(route)) : undefined,
  });
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    challenge: response.headers.get('www-authenticate'),
    text: await response.text(),
  };
}

beforeAll(async () => {
  network = await loadNetworkModule().startNetwork({
    skipBacklog: true,
    owner: `security:${process.pid}`,
    portBase: PORT_BASE,
    stateDir: path.join(ROOT, '.carerelay', 'security'),
    quiet: true,
    log: (line: string) => process.stderr.write(`[security network] ${line}\n`),
  });
  const services = [...new Set(network.processes.map((p) => p.app))].filter(
    // The web app authenticates people by session cookie, not access tokens: its refusals
    // (no session, wrong role, other organization, CSRF) are proven by test/browser.
    (app) => !['fhir-api', 'ehr-server', 'web'].includes(app),
  );
  byApp = routesByApp(services);
  for (const role of ['ehr', 'cbo', 'coordinator'] as const) {
    const client = network.clients.find((c) => c.role === role)!;
    const source = new SmartBackendTokenSource({
      tokenUrl: tokenUrlOf(network.fhirBaseUrl),
      clientId: client.clientId,
      privateJwk: client.privateJwk,
      alg: client.alg,
      scope: SCOPES_BY_ROLE[role],
    });
    tokenOf.set(role, () => source.token());
  }
  tokenOf.set('platform', () => network.platformTokens.token());
  // A token with every right claim, signed by a key that is not the FHIR API's.
  const { privateKey } = await generateKeyPair('ES384');
  const iat = Math.floor(Date.now() / 1000);
  forged = await new SignJWT({
    client_id: 'forger',
    org: 'carerelay-platform',
    role: 'platform',
    scope: 'system/*.cruds',
  })
    .setProtectedHeader({ alg: 'ES384', kid: 'forged', typ: 'at+jwt' })
    .setIssuer(network.fhirBaseUrl)
    .setAudience(network.fhirBaseUrl)
    .setSubject('forger')
    .setIssuedAt(iat)
    .setExpirationTime(iat + 300)
    .sign(privateKey);
}, 600_000);

afterAll(async () => {
  await network?.stop({ stopInfrastructure: false });
}, 60_000);

describe('the FHIR API publishes the keys of its access tokens', () => {
  it('serves a JWKS of public keys, named in the SMART configuration', async () => {
    const smart = (await (
      await fetch(`${network.fhirBaseUrl}/.well-known/smart-configuration`)
    ).json()) as { jwks_uri: string };
    expect(smart.jwks_uri).toBe(`${network.fhirBaseUrl}/.well-known/jwks.json`);
    const jwks = (await (await fetch(smart.jwks_uri)).json()) as {
      keys: Record<string, unknown>[];
    };
    expect(jwks.keys.length).toBeGreaterThan(0);
    for (const key of jwks.keys) {
      expect(key.kid).toEqual(expect.any(String));
      expect(key.d).toBeUndefined();
    }
  });
});

describe('every route of every service API', () => {
  it('finds the routes of every service from their controllers', () => {
    const count = (app: string) => byApp.get(app)?.filter((r) => !r.public).length ?? 0;
    for (const app of ['directory-service', 'consent-service', 'followup-service', 'ehr-connector'])
      expect({ app, routes: count(app) > 0 }).toEqual({ app, routes: true });
    expect(byApp.get('ehr-connector')!.map((r) => `${r.method} ${r.path}`)).toEqual(
      expect.arrayContaining([
        'PUT /ehr-endpoints/:id',
        'GET /ehr-endpoints',
        'GET /pull/refusals',
        'GET /remote-referrals',
        'POST /push/deliveries/:id/replay',
        'POST /ehr-endpoints/:id/subscription',
        'POST /ehr-notifications/:endpointId',
      ]),
    );
  });

  it('decides who may call each route: health and metrics open, everything else by role', () => {
    const undecided: string[] = [];
    for (const [app, routes] of byApp) {
      for (const route of routes) {
        const open =
          route.path.startsWith('/health') || route.path === '/metrics' || bySecret(app, route);
        if (route.public !== open || (!route.public && !route.callers?.length))
          undecided.push(`${app} ${route.method} ${route.path}`);
      }
    }
    expect(undecided).toEqual([]);
  });

  it('refuses a caller without a token, with a malformed, a garbage or a forged token: 401 problem+json', async () => {
    const accepted: string[] = [];
    let probed = 0;
    for (const [app, routes] of byApp) {
      for (const route of routes.filter((r) => !r.public || bySecret(app, r))) {
        probed++;
        for (const [label, authorization] of [
          ['no token', undefined],
          ['Basic', 'Basic YWRtaW46YWRtaW4='],
          ['garbage', 'Bearer abc.def.ghi'],
          ['forged', `Bearer ${forged}`],
        ] as const) {
          const answer = await call(app, route, authorization);
          if (
            answer.status !== 401 ||
            !answer.type?.startsWith('application/problem+json') ||
            !answer.challenge?.startsWith('Bearer ')
          )
            accepted.push(`${app} ${route.method} ${route.path} (${label}): ${answer.status}`);
        }
      }
    }
    expect(probed).toBeGreaterThan(30);
    expect(accepted).toEqual([]);
  }, 120_000);

  it('refuses a real token of a role the route does not admit: 403 (the demo coordinator is not an operator)', async () => {
    const accepted: string[] = [];
    let attacked = 0;
    for (const [app, routes] of byApp) {
      for (const route of routes.filter((r) => !r.public)) {
        const callers = route.callers as Caller[];
        for (const role of ['ehr', 'cbo', 'coordinator'] as const) {
          if (callers.includes(role)) continue;
          attacked++;
          const answer = await call(app, route, `Bearer ${await tokenOf.get(role)!()}`);
          if (answer.status !== 403 || !answer.type?.startsWith('application/problem+json'))
            accepted.push(`${app} ${route.method} ${route.path} (${role}): ${answer.status}`);
        }
      }
    }
    expect(attacked).toBeGreaterThan(20);
    expect(accepted).toEqual([]);
  }, 120_000);

  it('wrote nothing the refused requests asked for', async () => {
    const platform = network.platformTokens.fetch;
    const endpoints = (await (
      await platform(`${urlOf('ehr-connector')}/ehr-endpoints`)
    ).json()) as Array<{ id: string; baseUrl: string }>;
    expect(endpoints.map((e) => e.id)).not.toContain('sec-probe-1');
    expect(endpoints.filter((e) => e.baseUrl.includes('/attacker/'))).toEqual([]);
    expect((await platform(`${urlOf('directory-service')}/organizations/sec-probe-1`)).status).toBe(
      404,
    );
    expect((await platform(`${urlOf('followup-service')}/policies/sec-probe-1`)).status).toBe(404);
    const attempts = (await (
      await platform(`${urlOf('followup-service')}/referrals/sec-probe-1/contact-attempts`)
    ).json()) as unknown[];
    expect(attempts).toEqual([]);
  });

  it('admits the platform: its token reaches the routes (no 401/403)', async () => {
    const refused: string[] = [];
    for (const [app, routes] of byApp) {
      for (const route of routes.filter((r) => !r.public && r.method === 'GET')) {
        const answer = await call(app, route, `Bearer ${await tokenOf.get('platform')!()}`);
        if (answer.status === 401 || answer.status === 403)
          refused.push(`${app} ${route.method} ${route.path}: ${answer.status}`);
      }
    }
    expect(refused).toEqual([]);
    expect(CALLERS).toContain('admin');
  });

  it('leaves health and metrics open (no PHI) on the management port only: the API port answers them 404', async () => {
    for (const app of byApp.keys()) {
      const proc = network.processes.find((p) => p.app === app && p.status === 'ready')!;
      expect(proc.managementUrl).toMatch(/^http:/);
      expect(proc.managementUrl).not.toBe(proc.url);
      for (const route of ['/health/live', '/metrics']) {
        expect({
          app,
          route,
          status: (await fetch(`${proc.managementUrl}${route}`)).status,
        }).toEqual({ app, route, status: 200 });
        expect({ app, route, status: (await fetch(`${proc.url}${route}`)).status }).toEqual({
          app,
          route,
          status: 404,
        });
      }
    }
  });
});

/** A hostile "EHR": answers whatever it is asked with the marker (and a file's content). */
async function startHostileServer(): Promise<{
  server: Server;
  base: string;
  seen: IncomingMessage[];
}> {
  const passwd = fs.existsSync('/etc/passwd') ? fs.readFileSync('/etc/passwd', 'utf8') : '';
  const seen: IncomingMessage[] = [];
  const server = createServer((request, response) => {
    seen.push(request);
    // No keep-alive: a later test's server on a reused port must not get this one's connections.
    response.shouldKeepAlive = false;
    if (request.method === 'POST' && request.url?.endsWith('/token')) {
      response
        .writeHead(400, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: 'invalid_client', error_description: `${MARKER} ${passwd}` }));
      return;
    }
    response.writeHead(500, { 'content-type': 'application/fhir+json' }).end(
      JSON.stringify({
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'exception', diagnostics: `${MARKER} ${passwd}` }],
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, base: `http://127.0.0.1:${port}`, seen };
}

describe('the ehr-connector and EHR credentials', () => {
  const privateJwk = async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    return { ...(await exportJWK(privateKey)), kid: 'sec-k1' };
  };

  it('refuses a key file named by a request, even from the platform: 400, and echoes no file', async () => {
    const response = await network.platformTokens.fetch(
      `${urlOf('ehr-connector')}/ehr-endpoints/sec-file`,
      {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          organizationId: 'hosp-northside',
          baseUrl: 'http://127.0.0.1:9/sec-file/fhir',
          auth: 'smart-backend',
          clientId: 'c',
          tokenUrl: 'http://127.0.0.1:9/sec-file/token',
          privateJwkFile: '/etc/passwd',
          modes: ['pull'],
        }),
      },
    );
    expect(response.status).toBe(400);
    const text = await response.text();
    expect(text).toMatch(/privateJwkFile is not accepted/);
    expect(text).not.toMatch(/root:/);
    expect(
      (await network.platformTokens.fetch(`${urlOf('ehr-connector')}/ehr-endpoints/sec-file`))
        .status,
    ).toBe(404);
  });

  it('refuses a token URL of another origin: no registration, no assertion sent', async () => {
    const hostile = await startHostileServer();
    try {
      const response = await network.platformTokens.fetch(
        `${urlOf('ehr-connector')}/ehr-endpoints/sec-origin`,
        {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            organizationId: 'hosp-northside',
            baseUrl: 'http://127.0.0.1:9/sec-origin/fhir',
            auth: 'smart-backend',
            clientId: 'c',
            tokenUrl: `${hostile.base}/token`,
            privateJwk: await privateJwk(),
            modes: ['pull'],
            pollIntervalSeconds: 1,
          }),
        },
      );
      expect(response.status).toBe(400);
      expect(await response.text()).toMatch(/tokenUrl must have the baseUrl's origin/);
      expect(
        (await network.platformTokens.fetch(`${urlOf('ehr-connector')}/ehr-endpoints/sec-origin`))
          .status,
      ).toBe(404);
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(hostile.seen).toEqual([]);
    } finally {
      hostile.server.close();
      hostile.server.closeAllConnections();
    }
  });

  it("stores what a hostile EHR answers as a fixed message only: never its text, nor a file's", async () => {
    const hostile = await startHostileServer();
    // Ids of this run: the database may hold earlier runs' endpoints (and their errors).
    const tag = Date.now().toString(36);
    const plainId = `sec-plain-${tag}`;
    const smartId = `sec-smart-${tag}`;
    const connector = urlOf('ehr-connector');
    const register = (id: string, extra: Record<string, unknown>) =>
      network.platformTokens.fetch(`${connector}/ehr-endpoints/${id}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          organizationId: `sec-${id}`,
          baseUrl: `${hostile.base}/${id}/fhir`,
          modes: ['pull'],
          pollIntervalSeconds: 1,
          ...extra,
        }),
      });
    try {
      expect((await register(plainId, { auth: 'none' })).status).toBe(200);
      const smart = await register(smartId, {
        auth: 'smart-backend',
        clientId: 'carerelay',
        tokenUrl: `${hostile.base}/${smartId}/token`,
        privateJwk: await privateJwk(),
      });
      expect(smart.status).toBe(200);
      expect(await smart.text()).not.toContain('"d"');
      const errors = async () => {
        const listed = (await (
          await network.platformTokens.fetch(`${connector}/ehr-endpoints`)
        ).json()) as Array<{ id: string; lastPollError?: string }>;
        return listed.filter((e) => [plainId, smartId].includes(e.id) && e.lastPollError);
      };
      const deadline = Date.now() + 60_000;
      while ((await errors()).length < 2 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 500));
      const failed = await errors();
      expect(Object.fromEntries(failed.map((e) => [e.id, e.lastPollError]))).toEqual({
        [plainId]: 'FHIR request failed: HTTP 500',
        [smartId]: 'EHR token request failed: HTTP 400',
      });
      // The assertion went to the registered token URL, on the endpoint's own origin.
      expect(hostile.seen.some((r) => r.url === `/${smartId}/token`)).toBe(true);
      const answers = JSON.stringify([
        await (await network.platformTokens.fetch(`${connector}/ehr-endpoints`)).text(),
        await (await network.platformTokens.fetch(`${connector}/pull/refusals`)).text(),
      ]);
      expect(answers).not.toContain(MARKER);
      expect(answers).not.toMatch(/root:/);
    } finally {
      hostile.server.close();
      hostile.server.closeAllConnections();
      // Stop polling the hostile server.
      for (const id of [plainId, smartId])
        await register(id, {
          auth: 'none',
          enabled: false,
          baseUrl: `http://127.0.0.1:9/${id}/fhir`,
        });
    }
  }, 120_000);
});
