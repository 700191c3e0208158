import { startTcpProxy, testEnv, type TcpProxy } from '@carerelay/testing';
import { http, startTestFhirApi, type TestFhirApi } from './fhir-api.harness';

// While PostgreSQL is unreachable the API is unavailable, not broken: 503 with Retry-After and an
// OperationOutcome a client knows to retry (code `transient`), and it recovers when the database
// is back.
describe('fhir-api while its database is unreachable', () => {
  let proxy: TcpProxy;
  let api: TestFhirApi;

  beforeAll(async () => {
    const url = new URL(testEnv().DATABASE_URL);
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    const throughProxy = new URL(url);
    throughProxy.hostname = '127.0.0.1';
    throughProxy.port = String(proxy.port);
    api = await startTestFhirApi({ DATABASE_URL: throughProxy.toString() });
  }, 60_000);

  afterAll(async () => {
    await proxy.up().catch(() => undefined);
    await api?.close();
    await proxy?.close();
  }, 60_000);

  const patient = {
    resourceType: 'Patient',
    identifier: [{ system: 'urn:test:outage', value: 'p-1' }],
  };

  it('answers 503 + Retry-After while the database is away, and 2xx again once it is back', async () => {
    const created = await http(api.baseUrl, 'POST', '/Patient', patient);
    expect(created.status).toBe(201);
    const id = created.body.id as string;

    await proxy.down();
    for (const [method, path, body] of [
      ['GET', `/Patient/${id}`, undefined],
      ['GET', '/Patient?identifier=urn:test:outage|p-1', undefined],
      ['POST', '/Patient', patient],
    ] as const) {
      const answer = await http(api.baseUrl, method, path, body);
      expect({ method, path, status: answer.status }).toEqual({ method, path, status: 503 });
      expect(answer.headers.get('retry-after')).toBe('5');
      expect(answer.body.resourceType).toBe('OperationOutcome');
      expect(answer.body.issue[0].code).toBe('transient');
    }

    await proxy.up();
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = (await http(api.baseUrl, 'GET', `/Patient/${id}`)).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe(200);
    // The POST refused during the outage wrote nothing: one Patient with that identifier.
    const found = await http(api.baseUrl, 'GET', '/Patient?identifier=urn:test:outage|p-1');
    expect(found.body.total ?? found.body.entry?.length).toBe(1);
  }, 90_000);
});
