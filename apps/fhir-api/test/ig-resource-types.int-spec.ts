// The resource types the Coordination Platform CapabilityStatement asks for beyond the referral
// itself: Questionnaire (read, search by url and version: definitions every client may read),
// Device (read) and Coverage (US Core: where the referral's payer lives, patient data like the
// rest — a CBO reads it only under a covering consent).
import { randomUUID } from 'node:crypto';
import type {
  Bundle,
  CapabilityStatement,
  CapabilityStatementRestResource,
  Resource,
} from '@medplum/fhirtypes';
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

describe('Questionnaire, Device and Coverage', () => {
  jest.setTimeout(120_000);
  let api: TestFhirApi;
  let ehr: TestClient;
  let platform: TestClient;
  let cbo: TestClient;
  let referral: RoutedReferral;
  const run = randomUUID().slice(0, 8);
  const questionnaireUrl = `http://hospital.example.org/Questionnaire/hunger-vital-sign-${run}`;
  const ids = { q1: '', q2: '', device: '', coverage: '' };

  const get = async (client: TestClient, path: string) =>
    http(api.baseUrl, 'GET', path, undefined, bearer(await client.token('system/*.rs')));
  const found = (bundle: Bundle) => (bundle.entry ?? []).map((e) => e.resource!.id).sort();

  beforeAll(async () => {
    api = await startTestFhirApi({ FHIR_AUTH_DISABLED: 'false' });
    ehr = await registerClient(api, 'ehr', `hospital-types-${run}`, 'RS384');
    platform = await registerClient(api, 'platform', PLATFORM, 'ES384');
    cbo = await registerClient(api, 'cbo', `cbo-types-${run}`, 'ES384');
    referral = await routedReferral(`types-${run}`, ehr, platform, cbo.organizationId);
    for (const [key, version] of [
      ['q1', '1.0.0'],
      ['q2', '2.0.0'],
    ] as const) {
      const created = await platform.fhir().create({
        resourceType: 'Questionnaire',
        url: questionnaireUrl,
        version,
        status: 'active',
        title: 'Hunger Vital Sign',
        item: [{ linkId: '1', text: 'Within the past 12 months we worried…', type: 'choice' }],
      } as Resource);
      ids[key] = created.id!;
    }
    ids.device = (
      await ehr.fhir().create({
        resourceType: 'Device',
        status: 'active',
        deviceName: [{ name: 'Referral integration engine', type: 'user-friendly-name' }],
      } as Resource)
    ).id!;
    ids.coverage = (
      await ehr.fhir().create({
        resourceType: 'Coverage',
        status: 'active',
        type: {
          coding: [{ system: 'https://nahdo.org/sopt', code: '2', display: 'MEDICAID' }],
        },
        beneficiary: { reference: `Patient/${referral.patient}` },
        payor: [{ display: 'State Medicaid' }],
      } as Resource)
    ).id!;
  });
  afterAll(async () => {
    await api?.close();
  });

  it('Questionnaire: read by every role, searched by url and by url and version', async () => {
    for (const client of [ehr, cbo, platform]) {
      expect((await get(client, `/Questionnaire/${ids.q1}`)).status).toBe(200);
    }
    const byUrl = await get(cbo, `/Questionnaire?url=${encodeURIComponent(questionnaireUrl)}`);
    expect(found(byUrl.body)).toEqual([ids.q1, ids.q2].sort());
    const byVersion = await get(
      ehr,
      `/Questionnaire?url=${encodeURIComponent(questionnaireUrl)}&version=2.0.0`,
    );
    expect(found(byVersion.body)).toEqual([ids.q2]);
  });

  it('Device: the EHR reads what it registered', async () => {
    expect((await get(ehr, `/Device/${ids.device}`)).status).toBe(200);
  });

  it('Coverage: the EHR reads and searches it; the CBO only once a consent covers it', async () => {
    expect((await get(ehr, `/Coverage/${ids.coverage}`)).status).toBe(200);
    const byPatient = await get(ehr, `/Coverage?beneficiary=Patient/${referral.patient}`);
    expect(found(byPatient.body)).toEqual([ids.coverage]);
    expect((await get(cbo, `/Coverage/${ids.coverage}`)).status).toBe(404);
  });

  it('a CBO cannot write a Questionnaire or a Coverage (403)', async () => {
    for (const resource of [
      { resourceType: 'Questionnaire', status: 'draft' },
      { resourceType: 'Coverage', status: 'active' },
    ]) {
      const answer = await http(
        api.baseUrl,
        'POST',
        `/${resource.resourceType}`,
        resource,
        bearer(await cbo.token('system/*.cruds')),
      );
      expect({ type: resource.resourceType, status: answer.status }).toEqual({
        type: resource.resourceType,
        status: 403,
      });
    }
  });

  it('the CapabilityStatement lists the three types with read and search', async () => {
    const statement = (await http(api.baseUrl, 'GET', '/metadata')).body as CapabilityStatement;
    const byType = new Map<string, CapabilityStatementRestResource>(
      statement.rest![0].resource!.map((r) => [r.type, r]),
    );
    for (const type of ['Questionnaire', 'Device', 'Coverage']) {
      const codes = (byType.get(type)?.interaction ?? []).map((i) => i.code);
      expect({ type, read: codes.includes('read'), search: codes.includes('search-type') }).toEqual(
        { type, read: true, search: true },
      );
    }
    const questionnaireParams = (byType.get('Questionnaire')?.searchParam ?? []).map((p) => p.name);
    expect(questionnaireParams).toEqual(expect.arrayContaining(['url', 'version']));
  });
});
