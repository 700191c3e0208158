// Scopes per interaction and per Bundle entry, with real SMART tokens: 403 OperationOutcomes that
// name the missing scope, nothing written by a refused transaction, _include of unreadable types
// dropped silently.
import type { Bundle } from '@medplum/fhirtypes';
import {
  bearer,
  http,
  referralBundle,
  registerClient,
  startTestFhirApi,
  storeCounts,
  type TestClient,
  type TestFhirApi,
} from './fhir-api.harness';

describe('scopes per interaction and per Bundle entry', () => {
  jest.setTimeout(120_000);
  let api: TestFhirApi;
  let ehr: TestClient;
  let cbo: TestClient;

  beforeAll(async () => {
    api = await startTestFhirApi({ FHIR_AUTH_DISABLED: 'false' });
    ehr = await registerClient(api, 'ehr', 'hospital-s', 'RS384');
    cbo = await registerClient(api, 'cbo', 'cbo-s', 'ES384');
  });
  afterAll(async () => {
    await api?.close();
  });

  const as = async (client: TestClient, scope: string) => bearer(await client.token(scope));

  it('a transaction with an entry the token does not cover: 403 naming the entry and the scope, nothing written', async () => {
    const before = await storeCounts(api);
    const headers = await as(
      ehr,
      'system/Patient.cruds system/ServiceRequest.cruds system/Consent.cruds',
    );
    const answer = await http(api.baseUrl, 'POST', '', referralBundle('no-task-scope'), headers);
    expect(answer.status).toBe(403);
    expect(answer.body.resourceType).toBe('OperationOutcome');
    expect(answer.body.issue[0].code).toBe('forbidden');
    expect(answer.body.issue[0].diagnostics).toMatch(/system\/Task\.c/);
    expect(answer.body.issue[0].expression).toEqual(['Bundle.entry[2]']);
    expect(await storeCounts(api)).toEqual(before);
  });

  it('the same Bundle with the scopes it needs: 200', async () => {
    const headers = await as(ehr, 'system/*.cruds');
    const answer = await http(api.baseUrl, 'POST', '', referralBundle('scoped'), headers);
    expect(answer.status).toBe(200);
    expect(answer.body.type).toBe('transaction-response');
  });

  it('each REST interaction needs its own permission (v2 and v1 syntax)', async () => {
    const readOnly = await as(ehr, 'system/Patient.rs');
    const create = await http(
      api.baseUrl,
      'POST',
      '/Patient',
      { resourceType: 'Patient', name: [{ family: 'Scope' }] },
      readOnly,
    );
    expect(create.status).toBe(403);
    expect(create.body.issue[0].diagnostics).toMatch(/system\/Patient\.c/);
    expect((await http(api.baseUrl, 'GET', '/Patient', undefined, readOnly)).status).toBe(200);
    const task = await http(api.baseUrl, 'GET', '/Task', undefined, readOnly);
    expect(task.status).toBe(403);
    expect(task.body.issue[0].diagnostics).toMatch(/system\/Task\.s/);
    const v1 = await as(ehr, 'system/*.read');
    expect((await http(api.baseUrl, 'GET', '/Task', undefined, v1)).status).toBe(200);
    expect(
      (
        await http(
          api.baseUrl,
          'POST',
          '/Patient',
          { resourceType: 'Patient', name: [{ family: 'V1' }] },
          v1,
        )
      ).status,
    ).toBe(403);
    const history = await http(
      api.baseUrl,
      'GET',
      '/Patient/_history',
      undefined,
      await as(ehr, 'system/Patient.r'),
    );
    expect(history.status).toBe(403);
    expect(history.body.issue[0].diagnostics).toMatch(/system\/Patient\.s/);
  });

  it('the role ceiling holds whatever the token asks for: a CBO may not create a Task or delete a Patient', async () => {
    const headers = await as(cbo, 'system/*.cruds');
    const create = await http(api.baseUrl, 'POST', '/Task', { resourceType: 'Task' }, headers);
    expect(create.status).toBe(403);
    const remove = await http(api.baseUrl, 'DELETE', '/Patient/x', undefined, headers);
    expect(remove.status).toBe(403);
    expect((await http(api.baseUrl, 'GET', '/AuditEvent', undefined, headers)).status).toBe(403);
  });

  it('a batch answers 403 for the entry that is not covered and processes the others', async () => {
    const headers = await as(ehr, 'system/Patient.cruds');
    const answer = await http(
      api.baseUrl,
      'POST',
      '',
      {
        resourceType: 'Bundle',
        type: 'batch',
        entry: [
          {
            resource: { resourceType: 'Patient', name: [{ family: 'Batch' }] },
            request: { method: 'POST', url: 'Patient' },
          },
          { request: { method: 'GET', url: 'Task?status=requested' } },
        ],
      },
      headers,
    );
    expect(answer.status).toBe(200);
    const [first, second] = (answer.body as Bundle).entry!;
    expect(first.response!.status).toBe('201 Created');
    expect(second.response!.status).toBe('403 Forbidden');
    expect(JSON.stringify(second.response!.outcome)).toMatch(/system\/Task\.s/);
  });

  it('_include of a type the token may not read is dropped silently', async () => {
    const both = await as(ehr, 'system/Task.rs system/ServiceRequest.rs');
    const with_ = await http(api.baseUrl, 'GET', '/Task?_include=Task:focus', undefined, both);
    expect(with_.status).toBe(200);
    const types = (b: Bundle) => [...new Set((b.entry ?? []).map((e) => e.resource!.resourceType))];
    expect(types(with_.body).sort()).toEqual(['ServiceRequest', 'Task']);
    const taskOnly = await as(ehr, 'system/Task.rs');
    for (const include of ['Task:focus', 'Task:focus:ServiceRequest', 'Task:patient']) {
      const without = await http(
        api.baseUrl,
        'GET',
        `/Task?_include=${include}`,
        undefined,
        taskOnly,
      );
      expect(without.status).toBe(200);
      expect(types(without.body)).toEqual(['Task']);
    }
    const rev = await http(
      api.baseUrl,
      'GET',
      '/ServiceRequest?_revinclude=Task:focus',
      undefined,
      await as(ehr, 'system/ServiceRequest.rs'),
    );
    expect(rev.status).toBe(200);
    expect(types(rev.body)).toEqual(['ServiceRequest']);
  });
});
