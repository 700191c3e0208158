// The FHIR API attacked around its REST reads, as a client of the network would: with the
// network's own kinds of clients (registered through the CLI's code, real SMART Backend Services
// tokens) against a started FHIR API on real PostgreSQL and Kafka. Each attack is the request
// that used to succeed; each must now be refused, and nothing written.
//
//  - consent leaks through a full-resource Subscription and through `_summary=count`;
//  - a hospital granting consent for another hospital's patient;
//  - writes claiming another tenant (create-by-update by a CBO, another hospital as requester);
//  - Subscriptions as a request forger and port scanner inside the network;
//  - client-id enumeration at the token endpoint, assertions from the future, invalid UTF-8,
//    formats the server cannot produce, concurrent creates-by-update.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { importJWK, SignJWT } from 'jose';
import type { Consent, Resource, Task } from '@medplum/fhirtypes';
import { TOPICS } from '@carerelay/contracts';
import { startGroupAtLatest, uniqueName, waitFor } from '@carerelay/testing';
import {
  SUBSCRIPTION_MIGRATIONS,
  SubscriptionsModule,
} from '../../apps/fhir-api/src/subscriptions';
import {
  bearer,
  http,
  referralBundle,
  registerClient,
  routedReferral,
  startHookEndpoint,
  startTestFhirApi,
  storeCounts,
  taskSubscription,
  type RoutedReferral,
  type TestClient,
  type TestFhirApi,
} from '../../apps/fhir-api/test/fhir-api.harness';

const NORTH = 'hosp-northside';
const SOUTH = 'hosp-southshore';
const CBO = 'cbo-foodbank';
const PLATFORM = 'carerelay-platform';

/** Stands for an internal service of the network (say the connector's push API on :8085). */
async function internalService() {
  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
    req.resume();
    req.on('end', () => res.writeHead(404).end('{"error":"no such delivery"}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { port, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('attacks on the FHIR API’s other doors', () => {
  jest.setTimeout(300_000);
  let api: TestFhirApi;
  let hook: Awaited<ReturnType<typeof startHookEndpoint>>;
  let internal: Awaited<ReturnType<typeof internalService>>;
  let north: TestClient;
  let south: TestClient;
  let cbo: TestClient;
  let coordinator: TestClient;
  let platform: TestClient;
  let referral: RoutedReferral;

  beforeAll(async () => {
    const base = { url: '' };
    const groupId = uniqueName('fhir-api-subscriptions');
    await startGroupAtLatest(groupId, [TOPICS.fhirChanges.name]);
    // The operator allows plain http to one host name of its own, as the demo's stand-ins would.
    api = await startTestFhirApi(
      { FHIR_AUTH_DISABLED: 'false', SUBSCRIPTION_ALLOWED_HTTP_HOSTS: 'localhost' },
      {
        imports: [
          SubscriptionsModule.register({
            baseUrl: () => base.url,
            groupId,
            pollMs: 100,
            maxAttempts: 2,
            initialBackoffMs: 100,
            maxBackoffMs: 200,
          }),
        ],
        migrations: SUBSCRIPTION_MIGRATIONS,
      },
    );
    base.url = api.baseUrl;
    hook = await startHookEndpoint();
    internal = await internalService();
    north = await registerClient(api, 'ehr', NORTH, 'RS384');
    south = await registerClient(api, 'ehr', SOUTH, 'ES384');
    cbo = await registerClient(api, 'cbo', CBO, 'ES384');
    coordinator = await registerClient(api, 'coordinator', 'network-office', 'ES384');
    platform = await registerClient(api, 'platform', PLATFORM, 'ES384');
  });
  afterAll(async () => {
    await api?.close();
    await hook?.close();
    await internal?.close();
  });

  const call = async (
    client: TestClient,
    scope: string,
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => http(api.baseUrl, method, path, body, { ...bearer(await client.token(scope)), ...headers });
  const hookUrl = () => hook.url.replace('127.0.0.1', 'localhost');
  const subscriptionRows = () => api.count('SELECT count(*) AS n FROM $schema.subscriptions');

  async function nothingWritten<T>(attack: () => Promise<T>): Promise<T> {
    const before = { ...(await storeCounts(api)), subscriptions: await subscriptionRows() };
    const answer = await attack();
    expect({ ...(await storeCounts(api)), subscriptions: await subscriptionRows() }).toEqual(
      before,
    );
    return answer;
  }

  describe('consent in every channel', () => {
    let subscriptionId: string;

    beforeAll(async () => {
      const created = await call(
        cbo,
        'system/Task.rs system/Subscription.cruds',
        'POST',
        '/Subscription',
        taskSubscription(`Task?owner=Organization/${CBO}`, hookUrl(), 'full-resource'),
      );
      expect(created.status).toBe(201);
      subscriptionId = created.body.id;
      referral = await routedReferral(uniqueName('attack'), north, platform, CBO);
      await waitFor(() => hook.notificationsOf(subscriptionId).length >= 1, {
        what: 'the notification of the routed Task',
        timeoutMs: 60_000,
      });
    });

    it('a full-resource notification carries the Task as redacted as every REST read', async () => {
      const notified = hook.notificationsOf(subscriptionId)[0].bundle.entry[1].resource as Task;
      const rest = (await call(cbo, 'system/Task.rs', 'GET', `/Task/${referral.cboTask}`)).body;
      expect(notified).toEqual(rest);
      expect(notified.businessStatus?.text).toBe('awaiting consent');
      const text = JSON.stringify(hook.received);
      for (const phi of ['COLIN', 'ABBAS', 'Colin', referral.patient])
        expect({ phi, delivered: text.includes(phi) }).toEqual({ phi, delivered: false });
    });

    it('`Task?patient=<id>&_summary=count` is no patient-id oracle', async () => {
      const count = (patient: string) =>
        call(cbo, 'system/Task.rs', 'GET', `/Task?patient=Patient/${patient}&_summary=count`);
      const [real, madeUp] = [await count(referral.patient), await count(randomUUID())];
      expect([real.status, real.body.total]).toEqual([200, 0]);
      expect(real.body).toEqual({ ...madeUp.body, link: real.body.link });
    });
  });

  describe('a hospital granting consent for another hospital’s patient', () => {
    it('is refused (403, nothing written) and the CBO still reads nothing of the patient', async () => {
      // The owner of the patient revokes (here: its Consent stays only proposed, never in force).
      expect((await call(south, 'system/*.rs', 'GET', `/Patient/${referral.patient}`)).status).toBe(
        404,
      );
      const { id: _id, ...consent } = referralBundle('forged').entry![3].resource as Consent;
      const forged = {
        ...consent,
        status: 'active',
        patient: { reference: `Patient/${referral.patient}` },
      };
      const answer = await nothingWritten(() =>
        call(south, 'system/Consent.cruds', 'POST', '/Consent', forged),
      );
      expect(answer.status).toBe(403);
      expect(answer.body.resourceType).toBe('OperationOutcome');
      for (const path of [`/Patient/${referral.patient}`, `/ServiceRequest/${referral.filler}`])
        expect((await call(cbo, 'system/*.rs', 'GET', path)).status).toBe(404);
    });
  });

  describe('writes claiming another tenant', () => {
    const referralTask = (requester: string, id?: string) => {
      const task = referralBundle(`claim-${randomUUID()}`).entry![2].resource as Resource &
        Record<string, unknown>;
      task.for = { reference: `Patient/${referral.patient}` };
      task.focus = { reference: `ServiceRequest/${referral.sr}` };
      task.requester = { reference: requester };
      if (id) task.id = id;
      return task;
    };

    it('a CBO with only system/Task.rus cannot create a referral by update', async () => {
      const id = randomUUID();
      const answer = await nothingWritten(() =>
        call(
          cbo,
          'system/Task.rus',
          'PUT',
          `/Task/${id}`,
          referralTask(`Organization/${NORTH}`, id),
        ),
      );
      expect(answer.status).toBe(403);
      expect((await call(platform, 'system/*.rs', 'GET', `/Task/${id}`)).status).toBe(404);
    });

    it('an EHR cannot POST a referral in another hospital’s name', async () => {
      const answer = await nothingWritten(() =>
        call(south, 'system/Task.cruds', 'POST', '/Task', referralTask(`Organization/${NORTH}`)),
      );
      expect(answer.status).toBe(403);
      expect(answer.body.issue[0].expression).toEqual(['Task.requester']);
    });
  });

  describe('Subscriptions as a request forger and port scanner', () => {
    const forged = (endpoint: string) =>
      taskSubscription(`Task?owner=Organization/${CBO}`, endpoint, 'id-only', [
        'Authorization: Bearer forged',
      ]);

    it('a read-only coordinator and a CBO with only system/Task.rs cannot subscribe at all', async () => {
      const target = `http://127.0.0.1:${internal.port}/push/deliveries/1/replay`;
      for (const [who, client, scope] of [
        ['coordinator', coordinator, 'system/*.rs'],
        ['cbo', cbo, 'system/Task.rs'],
      ] as const) {
        const answer = await nothingWritten(() =>
          call(client, scope, 'POST', '/Subscription', forged(target)),
        );
        expect({ who, status: answer.status }).toEqual({ who, status: 403 });
      }
      expect(internal.seen).toEqual([]);
    });

    it('no subscriber reaches an internal service, nor injects headers, nor learns what answered', async () => {
      const scope = 'system/Task.rs system/Subscription.cruds';
      const targets = [
        `http://127.0.0.1:${internal.port}/push/deliveries/1/replay`,
        `https://127.0.0.1:${internal.port}/organizations`,
        `http://127.0.0.1:1/organizations`,
        'https://169.254.169.254/latest/meta-data/',
      ];
      const diagnostics = new Set<string>();
      for (const endpoint of targets) {
        const answer = await nothingWritten(() =>
          call(
            cbo,
            scope,
            'POST',
            '/Subscription',
            taskSubscription('Task?status=requested', endpoint),
          ),
        );
        expect({ endpoint, status: answer.status }).toEqual({ endpoint, status: 422 });
        diagnostics.add(answer.body.issue[0].diagnostics);
        expect(answer.text).not.toMatch(/answered|fetch failed|ECONNREFUSED|404/);
      }
      expect(diagnostics.size).toBe(1);
      const injected = await nothingWritten(() =>
        call(cbo, scope, 'POST', '/Subscription', forged(hookUrl())),
      );
      expect(injected.status).toBe(422);
      expect(internal.seen).toEqual([]);
    });
  });

  describe('smaller ones', () => {
    const assertionFor = async (
      client: TestClient,
      claims: { iss?: string; iat?: number } = {},
    ) => {
      const key = await importJWK(client.privateJwk, client.alg);
      const now = Math.floor(Date.now() / 1000);
      const iss = claims.iss ?? client.clientId;
      return new SignJWT({})
        .setProtectedHeader({ alg: client.alg, kid: client.privateJwk.kid, typ: 'JWT' })
        .setIssuer(iss)
        .setSubject(iss)
        .setAudience(client.tokenUrl)
        .setIssuedAt(claims.iat ?? now)
        .setExpirationTime(now + 240)
        .setJti(randomUUID())
        .sign(key);
    };
    const tokenRequest = async (assertion: string) => {
      const response = await fetch(north.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          scope: 'system/Task.rs',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: assertion,
        }).toString(),
      });
      return { status: response.status, body: (await response.json()) as Record<string, string> };
    };

    it('an assertion issued an hour in the future is refused', async () => {
      const answer = await tokenRequest(
        await assertionFor(north, { iat: Math.floor(Date.now() / 1000) + 3600 }),
      );
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('invalid_client');
      expect(answer.body.access_token).toBeUndefined();
    });

    it('an unknown client and a bad signature read the same (no client-id enumeration)', async () => {
      const unknown = await tokenRequest(await assertionFor(south, { iss: `crc_${randomUUID()}` }));
      // south's key, north's client id: a signature north's registered key does not verify.
      const badSignature = await tokenRequest(await assertionFor(south, { iss: north.clientId }));
      expect(unknown.status).toBe(400);
      expect(badSignature).toEqual(unknown);
    });

    it('invalid UTF-8 is refused, not stored as U+FFFD', async () => {
      const body = Buffer.concat([
        Buffer.from('{"resourceType":"Patient","name":[{"family":"A'),
        Buffer.from([0xc3, 0x28]),
        Buffer.from('"}]}'),
      ]);
      const answer = await nothingWritten(async () =>
        http(api.baseUrl, 'POST', '/Patient', new Uint8Array(body), {
          ...bearer(await north.token('system/Patient.cruds')),
          'content-type': 'application/fhir+json',
        }),
      );
      expect(answer.status).toBe(400);
      const replaced = await api.count(
        `SELECT count(*) AS n FROM $schema.resources WHERE content::text LIKE '%' || chr(65533) || '%'`,
      );
      expect(replaced).toBe(0);
    });

    it('Accept: a format the server cannot produce gets 406, not JSON; XML gets XML', async () => {
      const read = async (accept: string) =>
        call(north, 'system/*.rs', 'GET', `/Patient/${referral.patient}`, undefined, { accept });
      const turtle = await read('text/turtle');
      expect(turtle.status).toBe(406);
      expect(turtle.text).not.toContain('COLIN');
      const xml = await read('application/fhir+xml');
      expect(xml.status).toBe(200);
      expect(xml.text).toMatch(/^<\?xml [^>]*\?><Patient xmlns="http:\/\/hl7\.org\/fhir">/);
    });

    it('four concurrent PUT Patient/<new id>: one 201, three 200, never 404', async () => {
      const id = randomUUID();
      const token = await north.token('system/Patient.cruds');
      const statuses = await Promise.all(
        [0, 1, 2, 3].map(
          async () =>
            (
              await http(
                api.baseUrl,
                'PUT',
                `/Patient/${id}`,
                { resourceType: 'Patient', id, active: true },
                bearer(token),
              )
            ).status,
        ),
      );
      expect(statuses.sort()).toEqual([200, 200, 200, 201]);
    });
  });
});
