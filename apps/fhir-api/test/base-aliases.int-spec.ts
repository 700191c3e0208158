// The FHIR API answers at more than one address (localhost beside 127.0.0.1, an instance's own
// address behind a load balancer: FHIR_BASE_URL_ALIASES). A reference on any of them is a
// reference to this server: a referral Task naming its Patient and ServiceRequest there is
// accepted as local and indexed as local; a server it does not know stays refused.
import type { Bundle, Task } from '@medplum/fhirtypes';
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

const NORTH = 'hosp-north';
const BASE = 'http://127.0.0.1:8080/fhir';
const ALIAS = 'http://localhost:8080/fhir';

describe('references on an alias of the base', () => {
  jest.setTimeout(180_000);
  let api: TestFhirApi;
  let north: TestClient;
  const ids = { patient: '', serviceRequest: '', task: '' };

  beforeAll(async () => {
    api = await startTestFhirApi({
      FHIR_AUTH_DISABLED: 'false',
      FHIR_BASE_URL: BASE,
      FHIR_BASE_URL_ALIASES: ALIAS,
    });
    north = await registerClient(api, 'ehr', NORTH, 'ES384');
    const answer = (await north
      .fhir()
      .transaction(referralBundle('alias', { requesterOrg: NORTH }))) as Bundle;
    [ids.patient, ids.serviceRequest, ids.task] = answer.entry!.map(
      (e) => e.response!.location!.split('/')[1],
    );
  });
  afterAll(async () => api?.close());

  const secondTask = async (base: string, value: string) => {
    const token = await north.token('system/*.cruds');
    const { body: first } = await http(
      api.baseUrl,
      'GET',
      `/Task/${ids.task}`,
      undefined,
      bearer(token),
    );
    const { id: _id, meta: _meta, ...task } = first as Task;
    return http(
      api.baseUrl,
      'POST',
      '/Task',
      {
        ...task,
        identifier: [{ system: 'http://hospital.smarthealthit.org/referrals', value }],
        focus: { reference: `${base}/ServiceRequest/${ids.serviceRequest}` },
        for: { reference: `${base}/Patient/${ids.patient}` },
      },
      bearer(token),
    );
  };

  it('accepts a Task whose focus and for are on an alias, and finds it by the local patient', async () => {
    const created = await secondTask(ALIAS, 'alias-task');
    expect(created.status).toBe(201);
    const token = await north.token('system/*.cruds');
    const found = await http(
      api.baseUrl,
      'GET',
      `/Task?patient=Patient/${ids.patient}&identifier=alias-task`,
      undefined,
      bearer(token),
    );
    expect(found.status).toBe(200);
    expect((found.body as Bundle).entry?.map((e) => e.resource?.id)).toEqual([created.body.id]);
  });

  it('still refuses a server that is neither the base, an alias nor a registered EHR endpoint', async () => {
    const before = await storeCounts(api);
    const refused = await secondTask('http://elsewhere.example/fhir', 'elsewhere-task');
    expect(refused.status).toBe(422);
    expect(refused.body.resourceType).toBe('OperationOutcome');
    expect(await storeCounts(api)).toEqual(before);
  });
});
