// Every read, search and write through the FHIR API leaves an AuditEvent (who, which
// organization, what, when, outcome), searchable by coordinators at GET /fhir/AuditEvent.
import type { AuditEvent, Bundle } from '@medplum/fhirtypes';
import {
  bearer,
  http,
  referralBundle,
  registerClient,
  startTestFhirApi,
  type TestClient,
  type TestFhirApi,
} from './fhir-api.harness';

describe('the audit trail of the FHIR API', () => {
  jest.setTimeout(120_000);
  let api: TestFhirApi;
  let ehr: TestClient;
  let coordinator: TestClient;
  let ids: string[];
  const started = new Date(Date.now() - 1000).toISOString();

  beforeAll(async () => {
    api = await startTestFhirApi({ FHIR_AUTH_DISABLED: 'false' });
    ehr = await registerClient(api, 'ehr', 'hospital-audit', 'RS384');
    coordinator = await registerClient(api, 'coordinator', 'coordinators', 'ES384');
    const fhir = ehr.fhir();
    const response = (await fhir.transaction(referralBundle('audit'))) as Bundle;
    ids = response.entry!.map((e) => e.response!.location!.split('/_history')[0]);
    await fhir.read('Patient', ids[0].split('/')[1]);
    await fhir.search('Task', { status: 'requested' });
    const missing = await http(
      api.baseUrl,
      'GET',
      '/Patient/does-not-exist',
      undefined,
      bearer(await ehr.token()),
    );
    expect(missing.status).toBe(404);
  });
  afterAll(async () => {
    await api?.close();
  });

  const search = async (query: string, client = coordinator) =>
    http(
      api.baseUrl,
      'GET',
      `/AuditEvent?${query}`,
      undefined,
      bearer(await client.token('system/*.rs')),
    );
  const events = (bundle: Bundle) => (bundle.entry ?? []).map((e) => e.resource as AuditEvent);
  const subtype = (e: AuditEvent) => e.subtype![0].code;

  it('records the transaction with every resource it wrote, the client and its organization', async () => {
    const answer = await search(`agent=Organization/hospital-audit&subtype=transaction`);
    expect(answer.status).toBe(200);
    const [event] = events(answer.body);
    expect(event).toMatchObject({ action: 'E', outcome: '0' });
    expect(event.agent[0].who!.identifier!.value).toBe(ehr.clientId);
    expect(event.agent[1].who!.reference).toBe('Organization/hospital-audit');
    const entities = event.entity!.map((e) => e.what?.reference?.split('/_history')[0]);
    expect(entities.sort()).toEqual([...ids].sort());
    expect(Date.parse(event.recorded)).toBeGreaterThan(Date.parse(started));
  });

  it('records reads and searches, and a failed read with its outcome', async () => {
    const reads = events((await search(`entity=${ids[0]}&subtype=read`)).body);
    expect(reads).toHaveLength(1);
    expect(reads[0]).toMatchObject({ action: 'R', outcome: '0' });
    const searches = events((await search(`agent=${ehr.clientId}&subtype=search-type`)).body);
    expect(searches.length).toBeGreaterThanOrEqual(1);
    const query = searches[0].entity!.find((e) => e.query)!.query!;
    expect(Buffer.from(query, 'base64').toString()).toBe('status=requested');
    const failed = events((await search(`entity=Patient/does-not-exist`)).body);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ outcome: '4' });
    expect(failed[0].outcomeDesc).toMatch(/not known/);
    expect(subtype(failed[0])).toBe('read');
  });

  it('records refused writes too (outcome 4), and writes nothing else', async () => {
    const token = await ehr.token('system/Patient.rs');
    const refused = await http(
      api.baseUrl,
      'POST',
      '/Patient',
      { resourceType: 'Patient' },
      bearer(token),
    );
    expect(refused.status).toBe(403);
    const [event] = events((await search(`agent=${ehr.clientId}&subtype=create&outcome=4`)).body);
    expect(event.outcomeDesc).toMatch(/system\/Patient\.c/);
  });

  it('is searchable by coordinators only: 403 for an EHR', async () => {
    const answer = await search('_count=1', ehr);
    expect(answer.status).toBe(403);
    expect(answer.body.resourceType).toBe('OperationOutcome');
    const all = await search(`date=ge${started}&_count=200`);
    expect(all.body.total).toBeGreaterThanOrEqual(5);
  });

  it('pages by keyset cursors: events recorded between two pages are neither repeated nor skipped', async () => {
    const fhir = ehr.fhir();
    const [type, id] = ids[2].split('/');
    for (let i = 0; i < 5; i++) await fhir.read(type, id);
    const query = `entity=${ids[2]}&subtype=read`;
    const recorded = events((await search(`${query}&_count=50`)).body).map((e) => e.id);
    expect(recorded).toHaveLength(5);
    const token = await coordinator.token('system/*.rs');
    const seen: string[] = [];
    let url: string | undefined = `${api.baseUrl}/AuditEvent?${query}&_count=2`;
    while (url) {
      const page = await http(url, 'GET', '', undefined, bearer(token));
      expect(page.status).toBe(200);
      seen.push(...events(page.body as Bundle).map((e) => e.id!));
      // A newer event before the next page (newest first): an offset would show one again.
      await fhir.read(type, id);
      url = (page.body as Bundle).link?.find((l) => l.relation === 'next')?.url;
      if (url) expect(url).toContain('_cursor=');
    }
    expect(seen).toEqual(recorded);
  });
});
