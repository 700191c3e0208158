// The outcome of a referral reaches the organization that referred it: once the CBO has written
// its Procedure and the platform has mirrored it into the source Task's output, the referring EHR
// reads the Procedure, includes it with `_include=Task:output`, and sees the CBO's Task and filler
// order of its own referral — and another hospital sees none of it.
import { randomUUID } from 'node:crypto';
import type { Bundle, Consent, Procedure, Resource, Task } from '@medplum/fhirtypes';
import {
  bearer,
  http,
  registerClient,
  routedReferral,
  startTestFhirApi,
  type RoutedReferral,
  type TestClient,
  type TestFhirApi,
} from './fhir-api.harness';

const PLATFORM = 'carerelay-platform';
const RESULTING_ACTIVITY = {
  coding: [
    {
      system: 'http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes',
      code: 'resulting-activity',
    },
  ],
};

describe('the outcome of a referral, as its referring EHR sees it', () => {
  jest.setTimeout(120_000);
  let api: TestFhirApi;
  let ehr: TestClient;
  let otherEhr: TestClient;
  let platform: TestClient;
  let cbo: TestClient;
  let otherCbo: TestClient;
  let referral: RoutedReferral;
  let procedureId: string;

  const get = async (client: TestClient, path: string) =>
    http(api.baseUrl, 'GET', path, undefined, bearer(await client.token('system/*.rs')));
  const ids = (bundle: Bundle) =>
    (bundle.entry ?? []).map((e) => `${e.resource!.resourceType}/${e.resource!.id}`).sort();
  /** A Procedure the CBO writes about the referral's patient, basedOn a request or nothing. */
  const createProcedure = async (basedOn?: string) => {
    const procedure = (await cbo.fhir().create({
      resourceType: 'Procedure',
      status: 'completed',
      code: { coding: [{ system: 'http://snomed.info/sct', code: '410606002' }] },
      subject: { reference: `Patient/${referral.patient}` },
      basedOn: basedOn ? [{ reference: basedOn }] : undefined,
      performedDateTime: new Date().toISOString(),
      performer: [{ actor: { reference: `Organization/${cbo.organizationId}` } }],
    } as Procedure & Resource)) as Procedure;
    return procedure.id!;
  };
  const outcomePaths = () => [
    `/Procedure/${procedureId}`,
    `/Task/${referral.cboTask}`,
    `/ServiceRequest/${referral.filler}`,
  ];

  beforeAll(async () => {
    api = await startTestFhirApi({ FHIR_AUTH_DISABLED: 'false' });
    const run = randomUUID().slice(0, 8);
    ehr = await registerClient(api, 'ehr', `hospital-outcome-${run}`, 'RS384');
    otherEhr = await registerClient(api, 'ehr', `hospital-other-${run}`, 'ES384');
    platform = await registerClient(api, 'platform', PLATFORM, 'ES384');
    cbo = await registerClient(api, 'cbo', `cbo-outcome-${run}`, 'ES384');
    otherCbo = await registerClient(api, 'cbo', `cbo-other-${run}`, 'RS384');
    referral = await routedReferral(`outcome-${run}`, ehr, platform, cbo.organizationId);
    await ehr.fhir().updateWithIfMatch<Consent & Resource>('Consent', referral.consent, (c) => ({
      ...c,
      status: 'active',
    }));
    // The CBO accepts, delivers and completes with a Procedure in its Task's output.
    for (const status of ['accepted', 'in-progress'] as const) {
      await cbo.fhir().updateWithIfMatch<Task & Resource>('Task', referral.cboTask, (t) => ({
        ...t,
        status,
      }));
    }
    procedureId = await createProcedure(`ServiceRequest/${referral.filler}`);
    const output = [
      { type: RESULTING_ACTIVITY, valueReference: { reference: `Procedure/${procedureId}` } },
    ];
    await cbo.fhir().updateWithIfMatch<Task & Resource>('Task', referral.cboTask, (t) => ({
      ...t,
      status: 'completed',
      output,
    }));
    // What referral-service does when the CBO's Task completes: the source Task mirrors it.
    for (const status of ['accepted', 'in-progress', 'completed'] as const) {
      await platform.fhir().updateWithIfMatch<Task & Resource>('Task', referral.task, (t) => ({
        ...t,
        status,
        output: status === 'completed' ? output : undefined,
      }));
    }
  });
  afterAll(async () => {
    await api?.close();
  });

  it('a Procedure the same CBO wrote outside this referral stays invisible to the EHR', async () => {
    const unrelated = await createProcedure();
    expect((await get(ehr, `/Procedure/${unrelated}`)).status).toBe(404);
    expect((await get(cbo, `/Procedure/${unrelated}`)).status).toBe(200);
  });

  it('the referring EHR reads the Procedure, the CBO’s Task and the filler order', async () => {
    for (const path of outcomePaths()) {
      expect({ path, status: (await get(ehr, path)).status }).toEqual({ path, status: 200 });
    }
    const procedure = (await get(ehr, `/Procedure/${procedureId}`)).body as Procedure;
    expect(procedure.basedOn?.[0]?.reference).toBe(`ServiceRequest/${referral.filler}`);
  });

  it('Task?_include=Task:output returns the source Task with its outcome', async () => {
    const answer = await get(ehr, `/Task?_id=${referral.task}&_include=Task:output`);
    expect(answer.status).toBe(200);
    expect(ids(answer.body)).toEqual([`Procedure/${procedureId}`, `Task/${referral.task}`].sort());
    const byPartOf = await get(ehr, `/Task?part-of=Task/${referral.task}`);
    expect(ids(byPartOf.body)).toEqual([`Task/${referral.cboTask}`]);
  });

  it('another hospital and another CBO see none of it', async () => {
    for (const client of [otherEhr, otherCbo]) {
      for (const path of [...outcomePaths(), `/Task/${referral.task}`]) {
        expect({ path, status: (await get(client, path)).status }).toEqual({ path, status: 404 });
      }
      const included = await get(client, `/Task?_id=${referral.task}&_include=Task:output`);
      expect(included.body.entry ?? []).toEqual([]);
    }
  });

  it('the CBO still reads its own outcome', async () => {
    for (const path of outcomePaths()) {
      expect({ path, status: (await get(cbo, path)).status }).toEqual({ path, status: 200 });
    }
  });
});
