// What a FHIR client library asks of reads and searches beyond the resource itself: `_summary`
// (true, text, data) and `_elements` subset the answer (tagged SUBSETTED), and conditional reads
// with If-None-Match / If-Modified-Since answer 304 when nothing changed.
import { randomUUID } from 'node:crypto';
import type { Bundle, Task } from '@medplum/fhirtypes';
import {
  bearer,
  http,
  referralBundle,
  registerClient,
  startTestFhirApi,
  type TestClient,
  type TestFhirApi,
} from './fhir-api.harness';

const SUBSETTED = 'SUBSETTED';

describe('_summary, _elements and conditional reads', () => {
  jest.setTimeout(120_000);
  let api: TestFhirApi;
  let ehr: TestClient;
  let taskId: string;

  const get = async (path: string, headers: Record<string, string> = {}) =>
    http(api.baseUrl, 'GET', path, undefined, {
      ...bearer(await ehr.token('system/*.rs')),
      ...headers,
    });
  const tagged = (resource: { meta?: { tag?: { code?: string }[] } }) =>
    (resource.meta?.tag ?? []).some((t) => t.code === SUBSETTED);

  beforeAll(async () => {
    api = await startTestFhirApi({ FHIR_AUTH_DISABLED: 'false' });
    const run = randomUUID().slice(0, 8);
    ehr = await registerClient(api, 'ehr', `hospital-subset-${run}`, 'RS384');
    const response = (await ehr.fhir().transaction(referralBundle(`subset-${run}`))) as Bundle;
    taskId = response.entry![2].response!.location!.split('/')[1];
  });
  afterAll(async () => {
    await api?.close();
  });

  it('a read with _summary=true keeps the summary elements, tagged SUBSETTED', async () => {
    const full = (await get(`/Task/${taskId}`)).body as Task;
    const summary = (await get(`/Task/${taskId}?_summary=true`)).body as Task;
    expect(full.for).toBeDefined();
    expect(full.authoredOn).toBeDefined();
    expect(summary.status).toBe(full.status);
    expect(summary.for).toEqual(full.for);
    expect(summary.focus).toEqual(full.focus);
    // Task.authoredOn is not a summary element in R4.
    expect(summary.authoredOn).toBeUndefined();
    expect(tagged(summary)).toBe(true);
    expect(tagged(full)).toBe(false);
  });

  it('a search with _elements returns only those (and the mandatory ones) in each match', async () => {
    const answer = await get(`/Task?_id=${taskId}&_elements=owner,focus&_include=Task:focus`);
    expect(answer.status).toBe(200);
    const bundle = answer.body as Bundle;
    const match = bundle.entry!.find((e) => e.search?.mode === 'match')!.resource as Task;
    expect(Object.keys(match).sort()).toEqual(
      ['focus', 'id', 'intent', 'meta', 'owner', 'resourceType', 'status'].sort(),
    );
    expect(tagged(match)).toBe(true);
    const included = bundle.entry!.find((e) => e.search?.mode === 'include')!.resource!;
    expect(included.resourceType).toBe('ServiceRequest');
    expect(tagged(included)).toBe(false);
  });

  it('_summary=data drops the narrative only; bad values are a 400 OperationOutcome', async () => {
    const data = (await get(`/Task/${taskId}?_summary=data`)).body as Task;
    expect(data.text).toBeUndefined();
    expect(data.authoredOn).toBeDefined();
    for (const query of [
      '_summary=maybe',
      '_elements=Task.status',
      '_elements=status&_summary=true',
    ]) {
      const answer = await get(`/Task/${taskId}?${query}`);
      expect({ query, status: answer.status, type: answer.body?.resourceType }).toEqual({
        query,
        status: 400,
        type: 'OperationOutcome',
      });
    }
  });

  it('If-None-Match and If-Modified-Since answer 304 when unchanged, 200 when changed', async () => {
    const first = await get(`/Task/${taskId}`);
    const etag = first.headers.get('etag')!;
    const lastModified = first.headers.get('last-modified')!;
    expect((await get(`/Task/${taskId}`, { 'if-none-match': etag })).status).toBe(304);
    expect((await get(`/Task/${taskId}`, { 'if-modified-since': lastModified })).status).toBe(304);
    const before = new Date(Date.parse(lastModified) - 60_000).toUTCString();
    expect((await get(`/Task/${taskId}`, { 'if-modified-since': before })).status).toBe(200);
    expect((await get(`/Task/${taskId}`, { 'if-none-match': 'W/"999"' })).status).toBe(200);
  });
});
