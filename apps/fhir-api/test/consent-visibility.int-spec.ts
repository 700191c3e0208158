// A CBO and the referral's patient data, with real SMART tokens: it sees only what is addressed
// to it; without a covering consent its Task says "awaiting consent" and carries no patient data,
// and the Patient, ServiceRequests and Consent answer 404 everywhere (read, vread, search,
// _include, _history); with the consent in force it sees them; once revoked, no more.
import type { Bundle, Consent, Resource, Task } from '@medplum/fhirtypes';
import {
  bearer,
  http,
  referralBundle,
  registerClient,
  startTestFhirApi,
  type TestClient,
  type TestFhirApi,
} from './fhir-api.harness';

const PLATFORM = 'carerelay-platform';
const DAR = 'http://hl7.org/fhir/StructureDefinition/data-absent-reason';

describe('CBO visibility gated by consent', () => {
  jest.setTimeout(120_000);
  let api: TestFhirApi;
  let ehr: TestClient;
  let platform: TestClient;
  let cboA: TestClient;
  let cboB: TestClient;
  const ids = { patient: '', sr: '', task: '', consent: '', filler: '', cboTask: '' };

  beforeAll(async () => {
    api = await startTestFhirApi({ FHIR_AUTH_DISABLED: 'false' });
    ehr = await registerClient(api, 'ehr', 'hospital-c', 'RS384');
    platform = await registerClient(api, 'platform', PLATFORM, 'ES384');
    cboA = await registerClient(api, 'cbo', 'cbo-a', 'ES384');
    cboB = await registerClient(api, 'cbo', 'cbo-b', 'RS384');
    // The EHR's referral, its Consent only proposed (not in force yet).
    const bundle = referralBundle('consent-gate', { ownerOrg: PLATFORM });
    (bundle.entry![3].resource as Consent).status = 'proposed';
    const response = (await ehr.fhir().transaction(bundle)) as Bundle;
    [ids.patient, ids.sr, ids.task, ids.consent] = response.entry!.map(
      (e) => e.response!.location!.split('/')[1],
    );
    // The platform routes it to cbo-a: a filler-order ServiceRequest and a CBO Task.
    const routed = (await platform.fhir().transaction({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:filler',
          resource: {
            resourceType: 'ServiceRequest',
            status: 'active',
            intent: 'filler-order',
            basedOn: [{ reference: `ServiceRequest/${ids.sr}` }],
            category: [
              {
                coding: [
                  {
                    system:
                      'http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes',
                    code: 'food-insecurity',
                  },
                ],
              },
            ],
            code: { coding: [{ system: 'http://snomed.info/sct', code: '467771000124109' }] },
            subject: { reference: `Patient/${ids.patient}` },
            requester: { reference: `Organization/${PLATFORM}` },
            performer: [{ reference: 'Organization/cbo-a' }],
            supportingInfo: [{ reference: `Consent/${ids.consent}` }],
          },
          request: { method: 'POST', url: 'ServiceRequest' },
        },
        {
          fullUrl: 'urn:uuid:cbo-task',
          resource: {
            resourceType: 'Task',
            partOf: [{ reference: `Task/${ids.task}` }],
            status: 'requested',
            intent: 'order',
            code: {
              coding: [{ system: 'http://hl7.org/fhir/CodeSystem/task-code', code: 'fulfill' }],
            },
            focus: { reference: 'urn:uuid:filler' },
            for: { reference: `Patient/${ids.patient}`, display: 'COLIN ABBAS' },
            description: 'Food pantry application for Colin',
            authoredOn: new Date().toISOString(),
            requester: { reference: `Organization/${PLATFORM}` },
            owner: { reference: 'Organization/cbo-a' },
          },
          request: { method: 'POST', url: 'Task' },
        },
      ],
    })) as Bundle;
    [ids.filler, ids.cboTask] = routed.entry!.map((e) => e.response!.location!.split('/')[1]);
  });
  afterAll(async () => {
    await api?.close();
  });

  const get = async (client: TestClient, path: string) =>
    http(api.baseUrl, 'GET', path, undefined, bearer(await client.token('system/*.rs')));
  const types = (bundle: Bundle) =>
    (bundle.entry ?? []).map((e) => `${e.resource!.resourceType}/${e.resource!.id}`).sort();
  const patientData = () => [
    `/Patient/${ids.patient}`,
    `/ServiceRequest/${ids.filler}`,
    `/ServiceRequest/${ids.sr}`,
    `/Consent/${ids.consent}`,
  ];

  async function expectNoPatientData(client: TestClient) {
    for (const path of patientData()) {
      expect({ path, status: (await get(client, path)).status }).toEqual({ path, status: 404 });
      expect({ path, status: (await get(client, `${path}/_history/1`)).status }).toEqual({
        path,
        status: 404,
      });
      expect({ path, status: (await get(client, `${path}/_history`)).status }).toEqual({
        path,
        status: 404,
      });
    }
    for (const type of ['Patient', 'ServiceRequest', 'Consent']) {
      const search = await get(client, `/${type}`);
      expect({ type, total: search.body.total }).toEqual({ type, total: 0 });
      const history = await get(client, `/${type}/_history`);
      expect({ type, total: history.body.total }).toEqual({ type, total: 0 });
    }
    const included = await get(
      client,
      `/Task?_id=${ids.cboTask}&_include=Task:focus&_include=Task:patient&_include=Task:part-of`,
    );
    expect({ status: included.status, body: included.status === 200 ? '' : included.text }).toEqual(
      {
        status: 200,
        body: '',
      },
    );
    expect(types(included.body)).toEqual(client === cboA ? [`Task/${ids.cboTask}`] : []);
  }

  function expectRedacted(task: Task) {
    expect(task.businessStatus?.text).toBe('awaiting consent');
    expect(task.for).toEqual({ extension: [{ url: DAR, valueCode: 'masked' }] });
    expect(task.description).toBeUndefined();
    expect(JSON.stringify(task)).not.toContain(ids.patient);
    expect(JSON.stringify(task)).not.toContain('COLIN');
    expect(task.meta?.security?.map((s) => s.code)).toContain('REDACTED');
  }

  describe('without a consent in force', () => {
    it('the CBO sees its Task, "awaiting consent", without patient data (read, search, _history)', async () => {
      const read = await get(cboA, `/Task/${ids.cboTask}`);
      expect(read.status).toBe(200);
      expectRedacted(read.body);
      expect(read.body.status).toBe('requested');
      const search = await get(cboA, '/Task?status=requested');
      expect(types(search.body)).toEqual([`Task/${ids.cboTask}`]);
      expectRedacted(search.body.entry[0].resource);
      const history = await get(cboA, `/Task/${ids.cboTask}/_history`);
      expectRedacted(history.body.entry[0].resource);
      expectRedacted((await get(cboA, `/Task/${ids.cboTask}/_history/1`)).body);
    });

    it('the Patient, both ServiceRequests and the Consent answer 404, and appear nowhere', async () => {
      await expectNoPatientData(cboA);
    });

    it('another CBO sees nothing of it, not even the Task', async () => {
      expect((await get(cboB, `/Task/${ids.cboTask}`)).status).toBe(404);
      expect((await get(cboB, `/Task/${ids.task}`)).status).toBe(404);
      expect((await get(cboB, `/Task`)).body.total).toBe(0);
      await expectNoPatientData(cboB);
    });

    it('the CBO may still decline its Task (only status, statusReason and output count)', async () => {
      const read = await get(cboA, `/Task/${ids.cboTask}`);
      expect(read.body.status).toBe('requested');
      // Nothing sent here is stored beyond what an owner may change: try a no-op status.
      const answer = await http(
        api.baseUrl,
        'PUT',
        `/Task/${ids.cboTask}`,
        { ...read.body, status: 'requested' },
        { ...bearer(await cboA.token()), 'if-match': read.headers.get('etag')! },
      );
      expect(answer.status).toBe(200);
      expectRedacted(answer.body);
      const stored = await platform.fhir().read<Task & Resource>('Task', ids.cboTask);
      expect(stored.for?.reference).toBe(`Patient/${ids.patient}`);
      expect(stored.description).toBe('Food pantry application for Colin');
      expect(stored.businessStatus).toBeUndefined();
    });
  });

  describe('once the consent is in force (what consent.granted announces)', () => {
    beforeAll(async () => {
      await ehr.fhir().updateWithIfMatch<Consent & Resource>('Consent', ids.consent, (c) => ({
        ...c,
        status: 'active',
      }));
    });

    it('the CBO reads the Patient, both ServiceRequests and the Consent, and its full Task', async () => {
      for (const path of patientData()) {
        expect({ path, status: (await get(cboA, path)).status }).toEqual({ path, status: 200 });
      }
      const task = (await get(cboA, `/Task/${ids.cboTask}`)).body as Task;
      expect(task.for?.reference).toBe(`Patient/${ids.patient}`);
      expect(task.businessStatus).toBeUndefined();
      const included = await get(
        cboA,
        `/Task?_id=${ids.cboTask}&_include=Task:focus&_include=Task:patient`,
      );
      expect(types(included.body)).toEqual(
        [`Patient/${ids.patient}`, `ServiceRequest/${ids.filler}`, `Task/${ids.cboTask}`].sort(),
      );
      expect((await get(cboA, `/Patient/${ids.patient}/_history/1`)).status).toBe(200);
    });

    it('still nothing for the other CBO, nor the EHR’s own Task for the CBO', async () => {
      await expectNoPatientData(cboB);
      expect((await get(cboA, `/Task/${ids.task}`)).status).toBe(404);
    });
  });

  describe('after the consent is revoked (what consent.revoked announces)', () => {
    beforeAll(async () => {
      await ehr.fhir().updateWithIfMatch<Consent & Resource>('Consent', ids.consent, (c) => ({
        ...c,
        status: 'inactive',
      }));
    });

    it('the CBO sees no patient data from then on, not even earlier versions', async () => {
      await expectNoPatientData(cboA);
      expectRedacted((await get(cboA, `/Task/${ids.cboTask}`)).body);
      expectRedacted((await get(cboA, `/Task/${ids.cboTask}/_history/1`)).body);
    });

    it('the EHR and the platform still see everything they saw', async () => {
      for (const path of [
        `/Patient/${ids.patient}`,
        `/ServiceRequest/${ids.sr}`,
        `/Consent/${ids.consent}`,
      ]) {
        expect((await get(ehr, path)).status).toBe(200);
        expect((await get(platform, path)).status).toBe(200);
      }
    });
  });
});
