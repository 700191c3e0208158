// Subscriptions cannot be used to reach inside the operator's network: endpoints https only (http
// for the operator's allow-listed hosts), never a loopback, private or link-local address unless
// allow-listed — at creation and again on every delivery; only custom X- headers; the
// subscriber's scopes and role checked; and no error that tells an answering port from a closed
// one. Real SMART tokens, PostgreSQL and Kafka.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TOPICS } from '@carerelay/contracts';
import { startGroupAtLatest, uniqueName, waitFor } from '@carerelay/testing';
import { SUBSCRIPTION_MIGRATIONS, SubscriptionsModule } from '../src/subscriptions';
import {
  bearer,
  http,
  referralBundle,
  registerClient,
  startHookEndpoint,
  startTestFhirApi,
  taskSubscription,
  type TestClient,
  type TestFhirApi,
} from './fhir-api.harness';

const HOSPITAL = 'hosp-subs';

/** A server that answers every request with `status`, counting them. */
async function answering(status: number) {
  const state = { requests: 0, connections: 0 };
  const server: Server = createServer((req, res) => {
    state.requests++;
    req.resume();
    req.on('end', () => res.writeHead(status).end('{"secret":"internal answer"}'));
  });
  server.on('connection', () => state.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { port, state, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('Subscription endpoints, headers, scopes and errors', () => {
  jest.setTimeout(180_000);
  let api: TestFhirApi;
  let hook: Awaited<ReturnType<typeof startHookEndpoint>>;
  let ehr: TestClient;
  let cbo: TestClient;
  let coordinator: TestClient;
  let internal: Awaited<ReturnType<typeof answering>>;
  const SCOPE = 'system/Task.rs system/Subscription.cruds';

  beforeAll(async () => {
    const base = { url: '' };
    const groupId = uniqueName('fhir-api-subscriptions');
    await startGroupAtLatest(groupId, [TOPICS.fhirChanges.name]);
    api = await startTestFhirApi(
      { FHIR_AUTH_DISABLED: 'false', SUBSCRIPTION_ALLOWED_HTTP_HOSTS: '127.0.0.1' },
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
    internal = await answering(404);
    ehr = await registerClient(api, 'ehr', HOSPITAL, 'RS384');
    cbo = await registerClient(api, 'cbo', 'cbo-subs', 'ES384');
    coordinator = await registerClient(api, 'coordinator', 'network-office', 'ES384');
  });
  afterAll(async () => {
    await api?.close();
    await hook?.close();
    await internal?.close();
  });

  const subscriptions = () => api.count('SELECT count(*) AS n FROM $schema.subscriptions');
  const create = async (client: TestClient, body: unknown, scope = SCOPE) =>
    http(api.baseUrl, 'POST', '/Subscription', body, bearer(await client.token(scope)));
  const filter = `Task?requester=Organization/${HOSPITAL}`;

  async function refused(
    what: string,
    client: TestClient,
    body: unknown,
    status: number,
    scope = SCOPE,
  ) {
    const before = await subscriptions();
    const requestsBefore = internal.state.requests;
    const answer = await create(client, body, scope);
    expect({ what, status: answer.status, type: answer.body?.resourceType }).toEqual({
      what,
      status,
      type: 'OperationOutcome',
    });
    expect({ what, written: (await subscriptions()) - before }).toEqual({ what, written: 0 });
    expect({ what, reached: internal.state.requests - requestsBefore }).toEqual({
      what,
      reached: 0,
    });
    return answer;
  }

  it('refuses internal and plain-http endpoints, whatever the spelling', async () => {
    const p = internal.port;
    const endpoints = [
      `http://localhost:${p}/push/deliveries/1/replay`, // http to a host not allow-listed
      `https://localhost:${p}/organizations`, // resolves to loopback
      `https://127.0.0.2:${p}/`,
      `https://[::1]:${p}/`,
      `https://[::ffff:127.0.0.1]:${p}/`,
      `https://0.0.0.0:${p}/`,
      'https://169.254.169.254/latest/meta-data/',
      'https://10.1.2.3/',
      'https://192.168.0.10/',
      'https://172.20.0.1/',
      'https://100.64.0.1/',
      'https://[fd00::1]/',
      'https://[fe80::1]/',
      'https://user:pass@127.0.0.1/',
      'http://example.com/hook',
      'https://no-such-host.invalid/hook',
      'ftp://example.com/hook',
    ];
    const diagnostics = new Set<string>();
    for (const endpoint of endpoints) {
      const answer = await refused(endpoint, ehr, taskSubscription(filter, endpoint), 422);
      diagnostics.add(answer.body.issue[0].diagnostics);
    }
    // One answer for every reason: the refusal maps nothing of the network.
    expect(diagnostics.size).toBe(1);
  });

  it('takes only custom X- headers; never Authorization, Cookie, Host or identity headers', async () => {
    for (const header of [
      'Authorization: Bearer stolen',
      'Cookie: session=1',
      'Host: internal',
      'Content-Type: text/plain',
      'X-Forwarded-For: 127.0.0.1',
      'X-Real-IP: 127.0.0.1',
      'X-Dev-Actor: platform:carerelay-platform',
      'X-Token: a\r\nAuthorization: Bearer x',
      'X-Empty:',
    ])
      await refused(header, ehr, taskSubscription(filter, hook.url, 'id-only', [header]), 422);
    const ok = await create(
      ehr,
      taskSubscription(filter, hook.url, 'id-only', ['X-Subscription-Token: s3cret']),
    );
    expect(ok.status).toBe(201);
    const handshake = hook.received[hook.received.length - 1];
    expect(handshake.headers['x-subscription-token']).toBe('s3cret');
    expect(handshake.headers.authorization).toBeUndefined();
  });

  it('checks the subscriber’s scopes and role', async () => {
    const body = taskSubscription(`Task?owner=Organization/cbo-subs`, hook.url);
    await refused('coordinator (read-only role)', coordinator, body, 403, 'system/*.rs');
    await refused('CBO with only system/Task.rs', cbo, body, 403, 'system/Task.rs');
    await refused('CBO without Task search', cbo, body, 403, 'system/Subscription.cruds');
    await refused(
      'full-resource without Task read',
      cbo,
      taskSubscription(`Task?owner=Organization/cbo-subs`, hook.url, 'full-resource'),
      403,
      'system/Subscription.cruds system/Task.s',
    );
    expect((await create(cbo, body)).status).toBe(201);
    // Reading back needs the Subscription scope too.
    const list = await create(cbo, body);
    const read = await http(
      api.baseUrl,
      'GET',
      `/Subscription/${list.body.id}`,
      undefined,
      bearer(await cbo.token('system/Task.rs')),
    );
    expect(read.status).toBe(403);
  });

  it('stores the same generic error for an answering port and a closed one', async () => {
    const closed = await closedPort();
    // Allow-listed host (127.0.0.1) so the deliveries are attempted: the remote side is all that differs.
    const a = await create(ehr, taskSubscription(filter, `http://127.0.0.1:${internal.port}/x`));
    const b = await create(ehr, taskSubscription(filter, `http://127.0.0.1:${closed}/x`));
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(a.body.status).toBe('error');
    expect(b.body.status).toBe('error');
    expect(a.body.error).toBe('handshake failed');
    expect(b.body.error).toBe(a.body.error);
    // Event deliveries failing: the stored error is the same text too.
    await ehr.fhir().transaction(referralBundle(uniqueName('subs'), { requesterOrg: HOSPITAL }));
    const errorOf = async (id: string) =>
      (
        await http(
          api.baseUrl,
          'GET',
          `/Subscription/${id}/$status`,
          undefined,
          bearer(await ehr.token(SCOPE)),
        )
      ).body.entry[0].resource.parameter.find((x: { name: string }) => x.name === 'error')
        ?.valueCodeableConcept?.text as string | undefined;
    await waitFor(async () => /event 1/.test((await errorOf(a.body.id)) ?? ''), {
      what: 'the failed delivery recorded',
      timeoutMs: 60_000,
    });
    await waitFor(async () => /event 1/.test((await errorOf(b.body.id)) ?? ''), {
      what: 'the failed delivery recorded',
      timeoutMs: 60_000,
    });
    const [ea, eb] = [await errorOf(a.body.id), await errorOf(b.body.id)];
    expect(ea).toBe('delivery failed: event 1, 2 attempts');
    expect(eb).toBe(ea);
    const lastErrors = await api.db.query(
      `SELECT DISTINCT last_error FROM "${api.schema}".subscription_events WHERE subscription_id = ANY($1)`,
      [[a.body.id, b.body.id]],
    );
    expect(lastErrors).toEqual([{ last_error: 'delivery failed' }]);
  });

  it('checks the address again on every delivery (a name that now resolves to loopback)', async () => {
    const target = await answering(200);
    try {
      const created = await create(ehr, taskSubscription(filter, hook.url));
      expect(created.status).toBe(201);
      // As if the host's DNS now answered 127.0.0.1 (rebinding): a name that is not allow-listed.
      await api.db.query(`UPDATE "${api.schema}".subscriptions SET endpoint = $2 WHERE id = $1`, [
        created.body.id,
        `https://localhost:${target.port}/hook`,
      ]);
      await ehr
        .fhir()
        .transaction(referralBundle(uniqueName('rebind'), { requesterOrg: HOSPITAL }));
      await waitFor(
        async () => {
          const [row] = await api.db.query(
            `SELECT status FROM "${api.schema}".subscriptions WHERE id = $1`,
            [created.body.id],
          );
          return row.status === 'error';
        },
        { what: 'the delivery refused', timeoutMs: 60_000 },
      );
      // Refused before connecting: the internal server never saw a connection.
      expect(target.state.connections).toBe(0);
      expect(hook.notificationsOf(created.body.id)).toHaveLength(0);
    } finally {
      await target.close();
    }
  });
});
