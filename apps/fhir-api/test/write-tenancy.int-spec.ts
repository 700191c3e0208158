// The tenant of every write, with real SMART tokens against PostgreSQL and Kafka: an EHR sends
// referrals only as its own organization and writes Consents only for patients it can read; a
// CBO cannot create a Task by update (create-by-update needs the create permission) — through
// POST, PUT, conditional create, batch and transaction alike, refused with an OperationOutcome
// and nothing written. And the smaller ones: invalid UTF-8 is a 400, a format the server cannot
// produce (neither JSON nor XML) a 406, concurrent creates-by-update of one id one 201 and the others 200.
import { randomUUID } from 'node:crypto';
import type { Bundle, Consent, Resource } from '@medplum/fhirtypes';
import {
  bearer,
  http,
  referralBundle,
  registerClient,
  storeCounts,
  startTestFhirApi,
  type TestClient,
  type TestFhirApi,
} from './fhir-api.harness';

const NORTH = 'hosp-north';
const SOUTH = 'hosp-south';

describe('the tenant of every write', () => {
  jest.setTimeout(180_000);
  let api: TestFhirApi;
  let north: TestClient;
  let south: TestClient;
  let cbo: TestClient;
  let coordinator: TestClient;
  let platform: TestClient;
  const ids = { patient: '', consent: '', task: '' };

  beforeAll(async () => {
    api = await startTestFhirApi({ FHIR_AUTH_DISABLED: 'false' });
    north = await registerClient(api, 'ehr', NORTH, 'RS384');
    south = await registerClient(api, 'ehr', SOUTH, 'ES384');
    cbo = await registerClient(api, 'cbo', 'cbo-tenancy', 'ES384');
    coordinator = await registerClient(api, 'coordinator', 'network-office', 'ES384');
    platform = await registerClient(api, 'platform', 'carerelay-platform', 'ES384');
    const answer = (await north
      .fhir()
      .transaction(referralBundle('tenancy', { requesterOrg: NORTH }))) as Bundle;
    [ids.patient, , ids.task, ids.consent] = answer.entry!.map(
      (e) => e.response!.location!.split('/')[1],
    );
  });
  afterAll(async () => api?.close());

  const call = async (
    client: TestClient,
    method: string,
    path: string,
    body?: unknown,
    scope = 'system/*.cruds',
    headers: Record<string, string> = {},
  ) => http(api.baseUrl, method, path, body, { ...bearer(await client.token(scope)), ...headers });

  /** Runs a refused request and proves that nothing was stored (resources, versions, events). */
  async function refusedWithoutWrite(
    what: string,
    request: () => Promise<{ status: number; body: any }>, // eslint-disable-line @typescript-eslint/no-explicit-any
    status: number,
  ) {
    const before = await storeCounts(api);
    const answer = await request();
    expect({ what, status: answer.status }).toEqual({ what, status });
    expect({ what, type: answer.body?.resourceType }).toEqual({
      what,
      type: 'OperationOutcome',
    });
    const after = await storeCounts(api);
    expect({ what, ...after, outbox: after.outbox }).toEqual({ what, ...before });
    return answer;
  }

  const consentFor = (patient: string, extra: Partial<Consent> = {}): Consent => {
    const bundle = referralBundle(`consent-${randomUUID()}`);
    const { id: _id, ...consent } = bundle.entry![3].resource as Consent;
    return { ...consent, status: 'active', patient: { reference: patient }, ...extra } as Consent;
  };

  describe('a Consent only for a patient the writer can read', () => {
    it('another hospital cannot read the patient, nor write a Consent for it, by any route', async () => {
      expect((await call(south, 'GET', `/Patient/${ids.patient}`)).status).toBe(404);
      const target = `Patient/${ids.patient}`;
      await refusedWithoutWrite(
        'POST',
        () => call(south, 'POST', '/Consent', consentFor(target)),
        403,
      );
      await refusedWithoutWrite(
        'POST, absolute reference elsewhere',
        () =>
          call(south, 'POST', '/Consent', consentFor(`https://elsewhere.example/fhir/${target}`)),
        403,
      );
      const newId = randomUUID();
      await refusedWithoutWrite(
        'PUT create-by-update',
        () => call(south, 'PUT', `/Consent/${newId}`, { ...consentFor(target), id: newId }),
        403,
      );
      await refusedWithoutWrite(
        'conditional create',
        () =>
          call(south, 'POST', '/Consent', consentFor(target), 'system/*.cruds', {
            'if-none-exist': `identifier=urn:x|${randomUUID()}`,
          }),
        403,
      );
      await refusedWithoutWrite(
        'transaction',
        () =>
          call(south, 'POST', '', {
            resourceType: 'Bundle',
            type: 'transaction',
            entry: [{ resource: consentFor(target), request: { method: 'POST', url: 'Consent' } }],
          }),
        403,
      );
      const batch = await call(south, 'POST', '', {
        resourceType: 'Bundle',
        type: 'batch',
        entry: [{ resource: consentFor(target), request: { method: 'POST', url: 'Consent' } }],
      });
      expect(batch.body.entry[0].response.status).toMatch(/^403/);
      // Its own Consent cannot be moved onto the other hospital's patient either.
      const own = (await south.fhir().transaction(referralBundle('south-own'))) as Bundle;
      const ownConsent = own.entry![3].response!.location!.split('/')[1];
      const read = await call(south, 'GET', `/Consent/${ownConsent}`);
      await refusedWithoutWrite(
        'update onto another patient',
        () =>
          call(
            south,
            'PUT',
            `/Consent/${ownConsent}`,
            { ...read.body, patient: { reference: target } },
            'system/*.cruds',
            { 'if-match': read.headers.get('etag')! },
          ),
        403,
      );
      const rules = await api.count(
        'SELECT count(*) AS n FROM $schema.consent_rules WHERE patient_id = $1',
        [ids.patient],
      );
      expect(rules).toBe(1); // north's own Consent only
    });

    it('a transaction may create the Patient in any entry, even by update after the Consent', async () => {
      const patientId = randomUUID();
      const answer = await call(north, 'POST', '', {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            resource: consentFor(`Patient/${patientId}`),
            request: { method: 'POST', url: 'Consent' },
          },
          {
            resource: { resourceType: 'Patient', id: patientId, active: true },
            request: { method: 'PUT', url: `Patient/${patientId}` },
          },
        ],
      });
      expect(answer.status).toBe(200);
      expect(
        answer.body.entry.map((e: { response: { status: string } }) => e.response.status),
      ).toEqual(['201 Created', '201 Created']);
      // The same Bundle from the other hospital for north's patient: the entry is named.
      const forged = await refusedWithoutWrite(
        'transaction, refusal located',
        () =>
          call(south, 'POST', '', {
            resourceType: 'Bundle',
            type: 'transaction',
            entry: [
              {
                resource: consentFor(`Patient/${ids.patient}`),
                request: { method: 'POST', url: 'Consent' },
              },
            ],
          }),
        403,
      );
      expect(forged.body.issue[0].expression).toEqual(['Bundle.entry[0].resource.patient']);
    });

    it('the hospital that can read the patient may; a coordinator may not write at all', async () => {
      const mine = await call(north, 'POST', '/Consent', consentFor(`Patient/${ids.patient}`));
      expect(mine.status).toBe(201);
      expect(
        (await call(coordinator, 'POST', '/Consent', consentFor(`Patient/${ids.patient}`))).status,
      ).toBe(403);
      expect(
        (await call(platform, 'POST', '/Consent', consentFor(`Patient/${ids.patient}`))).status,
      ).toBe(201);
    });
  });

  describe('referrals only in the writer’s own name', () => {
    const task = (requester: string) => {
      const t = referralBundle(`t-${randomUUID()}`).entry![2].resource as Resource &
        Record<string, unknown>;
      t.for = { reference: `Patient/${ids.patient}` };
      t.focus = { reference: `ServiceRequest/${randomUUID()}` };
      t.requester = { reference: requester };
      return t as Resource;
    };
    const serviceRequest = (requester: string) => {
      const sr = referralBundle(`sr-${randomUUID()}`).entry![1].resource as Resource &
        Record<string, unknown>;
      sr.subject = { reference: `Patient/${ids.patient}` };
      delete sr.supportingInfo;
      sr.requester = { reference: requester };
      return sr as Resource;
    };

    it('an EHR naming another hospital as requester is refused: POST, PUT, conditional, Bundles', async () => {
      const other = `Organization/${NORTH}`;
      await refusedWithoutWrite('POST Task', () => call(south, 'POST', '/Task', task(other)), 403);
      await refusedWithoutWrite(
        'POST Task, absolute local reference',
        () => call(south, 'POST', '/Task', task(`${api.baseUrl}/${other}`)),
        403,
      );
      await refusedWithoutWrite(
        'POST ServiceRequest',
        () => call(south, 'POST', '/ServiceRequest', serviceRequest(other)),
        403,
      );
      const id = randomUUID();
      await refusedWithoutWrite(
        'PUT Task create-by-update',
        () => call(south, 'PUT', `/Task/${id}`, { ...task(other), id }),
        403,
      );
      await refusedWithoutWrite(
        'conditional create',
        () =>
          call(south, 'POST', '/Task', task(other), 'system/*.cruds', {
            'if-none-exist': `identifier=urn:x|${randomUUID()}`,
          }),
        403,
      );
      await refusedWithoutWrite(
        'transaction',
        () =>
          call(south, 'POST', '', {
            resourceType: 'Bundle',
            type: 'transaction',
            entry: [
              {
                resource: serviceRequest(`Organization/${SOUTH}`),
                request: { method: 'POST', url: 'ServiceRequest' },
              },
              { resource: task(other), request: { method: 'POST', url: 'Task' } },
            ],
          }),
        403,
      );
      const before = await storeCounts(api);
      const batch = await call(south, 'POST', '', {
        resourceType: 'Bundle',
        type: 'batch',
        entry: [{ resource: task(other), request: { method: 'POST', url: 'Task' } }],
      });
      expect(batch.body.entry[0].response.status).toMatch(/^403/);
      expect((await storeCounts(api)).resources).toBe(before.resources);
      // In its own name it may.
      expect((await call(south, 'POST', '/Task', task(`Organization/${SOUTH}`))).status).toBe(201);
    });

    it('a CBO cannot create a Task by update, whatever requester it names', async () => {
      for (const scope of ['system/Task.rus', 'system/*.cruds']) {
        const id = randomUUID();
        const answer = await refusedWithoutWrite(
          `PUT Task/<new> with ${scope}`,
          () => call(cbo, 'PUT', `/Task/${id}`, { ...task(`Organization/${NORTH}`), id }, scope),
          403,
        );
        expect(answer.body.issue[0].code).toBe('forbidden');
      }
    });

    it('create-by-update follows the create permission of the token too', async () => {
      const id = randomUUID();
      await refusedWithoutWrite(
        'PUT Patient/<new> with only update',
        () =>
          call(
            north,
            'PUT',
            `/Patient/${id}`,
            { resourceType: 'Patient', id, active: true },
            'system/Patient.ru',
          ),
        403,
      );
    });
  });

  describe('smaller ones', () => {
    it('concurrent creates-by-update of one id: one 201, the others 200', async () => {
      const id = randomUUID();
      const statuses = await Promise.all(
        Array.from(
          { length: 4 },
          async (_, i) =>
            (
              await call(north, 'PUT', `/Patient/${id}`, {
                resourceType: 'Patient',
                id,
                active: true,
                gender: i % 2 === 0 ? 'female' : 'male',
              })
            ).status,
        ),
      );
      expect(statuses.sort()).toEqual([200, 200, 200, 201]);
    });

    it('invalid UTF-8 in a body is a 400, nothing stored', async () => {
      const json = Buffer.from(
        JSON.stringify({ resourceType: 'Patient', name: [{ family: 'AB' }] }),
        'utf8',
      );
      const bad = Buffer.concat([
        json.subarray(0, json.indexOf('AB') + 1),
        Buffer.from([0xff, 0xfe]),
        json.subarray(json.indexOf('AB') + 1),
      ]);
      await refusedWithoutWrite(
        'invalid UTF-8',
        async () =>
          http(api.baseUrl, 'POST', '/Patient', new Uint8Array(bad), {
            ...bearer(await north.token()),
            'content-type': 'application/fhir+json',
          }),
        400,
      );
    });

    it('a format the server cannot produce is a 406; JSON and XML in any spelling are served', async () => {
      const path = `/Patient/${ids.patient}`;
      for (const accept of ['text/turtle', 'application/pdf']) {
        const answer = await call(north, 'GET', path, undefined, 'system/*.rs', { accept });
        expect({ accept, status: answer.status, type: answer.body?.resourceType }).toEqual({
          accept,
          status: 406,
          type: 'OperationOutcome',
        });
      }
      expect((await call(north, 'GET', `${path}?_format=ttl`)).status).toBe(406);
      for (const [accept, type] of [
        ['application/fhir+json', 'application/fhir+json'],
        ['application/json', 'application/fhir+json'],
        ['*/*', 'application/fhir+json'],
        ['application/fhir+xml', 'application/fhir+xml'],
        ['application/xml', 'application/fhir+xml'],
        ['application/fhir+xml;q=0.9, application/fhir+json;q=0.5', 'application/fhir+xml'],
      ]) {
        const answer = await call(north, 'GET', path, undefined, 'system/*.rs', { accept });
        expect({ accept, status: answer.status, type: answer.headers.get('content-type') }).toEqual(
          {
            accept,
            status: 200,
            type: `${type}; charset=utf-8`,
          },
        );
      }
      expect((await call(north, 'GET', `${path}?_format=xml`)).headers.get('content-type')).toMatch(
        /^application\/fhir\+xml/,
      );
      expect((await call(north, 'GET', `${path}?_format=json`)).status).toBe(200);
    });
  });
});
