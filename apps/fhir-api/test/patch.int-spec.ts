// PATCH with a JSON Patch document, as FHIR R4's http page and fhir-kit-client's `patch` use it:
// the patched resource is stored by the same rules as an update (validation, the Task state
// machine, If-Match, tenancy); a bad document or a patch that cannot apply changes nothing.
import { randomUUID } from 'node:crypto';
import type { Bundle, Consent, Patient, Resource, Task } from '@medplum/fhirtypes';
import {
  bearer,
  fhirKitClient,
  http,
  registerClient,
  routedReferral,
  startTestFhirApi,
  type RoutedReferral,
  type TestClient,
  type TestFhirApi,
} from './fhir-api.harness';

const PLATFORM = 'carerelay-platform';
const JSON_PATCH = 'application/json-patch+json';

describe('PATCH (JSON Patch)', () => {
  jest.setTimeout(120_000);
  let api: TestFhirApi;
  let ehr: TestClient;
  let cbo: TestClient;
  let otherCbo: TestClient;
  let referral: RoutedReferral;

  beforeAll(async () => {
    api = await startTestFhirApi({ FHIR_AUTH_DISABLED: 'false' });
    const run = randomUUID().slice(0, 8);
    ehr = await registerClient(api, 'ehr', `hospital-patch-${run}`, 'RS384');
    const platform = await registerClient(api, 'platform', PLATFORM, 'ES384');
    cbo = await registerClient(api, 'cbo', `cbo-patch-${run}`, 'ES384');
    otherCbo = await registerClient(api, 'cbo', `cbo-patch-other-${run}`, 'RS384');
    referral = await routedReferral(`patch-${run}`, ehr, platform, cbo.organizationId);
  });
  afterAll(async () => {
    await api?.close();
  });

  const patch = async (
    client: TestClient,
    path: string,
    document: unknown,
    headers: Record<string, string> = {},
  ) =>
    http(api.baseUrl, 'PATCH', path, document, {
      'content-type': JSON_PATCH,
      ...bearer(await client.token()),
      ...headers,
    });
  const read = async <T extends Resource>(client: TestClient, path: string) =>
    (await http(api.baseUrl, 'GET', path, undefined, bearer(await client.token()))).body as T;

  it('fhir-kit-client patches the EHR’s Patient: a new version with the change', async () => {
    const before = await read<Patient>(ehr, `/Patient/${referral.patient}`);
    const client = fhirKitClient(api.baseUrl, bearer(await ehr.token()));
    const after = (await client.patch({
      resourceType: 'Patient',
      id: referral.patient,
      jsonPatch: [
        { op: 'test', path: '/id', value: referral.patient },
        { op: 'add', path: '/telecom/-', value: { system: 'email', value: 'c@example.org' } },
      ],
    })) as Patient;
    expect(Number(after.meta!.versionId)).toBe(Number(before.meta!.versionId) + 1);
    expect(after.telecom).toEqual([
      ...(before.telecom ?? []),
      { system: 'email', value: 'c@example.org' },
    ]);
    expect(await read<Patient>(ehr, `/Patient/${referral.patient}`)).toEqual(after);
  });

  it('the CBO moves its Task through the state machine by PATCH; an illegal move is a 422', async () => {
    const illegal = await patch(cbo, `/Task/${referral.cboTask}`, [
      { op: 'replace', path: '/status', value: 'completed' },
    ]);
    expect(illegal.status).toBe(422);
    expect(illegal.body.resourceType).toBe('OperationOutcome');
    const accepted = await patch(cbo, `/Task/${referral.cboTask}`, [
      { op: 'replace', path: '/status', value: 'accepted' },
    ]);
    expect(accepted.status).toBe(200);
    expect((accepted.body as Task).status).toBe('accepted');
    expect(accepted.headers.get('etag')).toBe(`W/"${(accepted.body as Task).meta!.versionId}"`);
  });

  it('what the owner may not change stays refused, as for PUT', async () => {
    // With a consent in force the CBO sees (and patches) its whole Task, not the redacted one.
    await ehr.fhir().updateWithIfMatch<Consent & Resource>('Consent', referral.consent, (c) => ({
      ...c,
      status: 'active',
    }));
    const answer = await patch(cbo, `/Task/${referral.cboTask}`, [
      { op: 'add', path: '/priority', value: 'stat' },
    ]);
    expect(answer.status).toBe(403);
    expect(answer.body.issue[0].expression).toEqual(['Task.priority']);
    expect((await read<Task>(cbo, `/Task/${referral.cboTask}`)).priority).not.toBe('stat');
  });

  it('an If-Match of another version is a 412; bad documents 400; a failing test 422 — and nothing changes', async () => {
    const path = `/Patient/${referral.patient}`;
    const before = await read<Patient>(ehr, path);
    const stale = await patch(ehr, path, [{ op: 'add', path: '/active', value: true }], {
      'if-match': `W/"${Number(before.meta!.versionId) + 5}"`,
    });
    expect(stale.status).toBe(412);
    for (const document of [
      { op: 'add', path: '/active', value: true },
      [{ op: 'replace', path: '/id', value: 'someone-else' }],
      [{ op: 'add', path: '/__proto__/x', value: 1 }],
    ]) {
      expect((await patch(ehr, path, document)).status).toBe(400);
    }
    const failing = await patch(ehr, path, [
      { op: 'test', path: '/gender', value: 'not-what-it-is' },
      { op: 'add', path: '/active', value: true },
    ]);
    expect(failing.status).toBe(422);
    const invalid = await patch(ehr, path, [{ op: 'add', path: '/gender', value: 'robot' }]);
    expect(invalid.status).toBe(400);
    const fhirJson = await patch(ehr, path, [{ op: 'add', path: '/active', value: true }], {
      'content-type': 'application/fhir+json',
    });
    expect(fhirJson.status).toBe(415);
    expect(await read<Patient>(ehr, path)).toEqual(before);
  });

  it('another CBO cannot patch what it cannot see (404), and the PATCH is in the audit trail', async () => {
    const answer = await patch(otherCbo, `/Task/${referral.cboTask}`, [
      { op: 'replace', path: '/status', value: 'rejected' },
    ]);
    expect(answer.status).toBe(404);
    const audit = (
      await http(
        api.baseUrl,
        'GET',
        `/AuditEvent?entity=Task/${referral.cboTask}&subtype=patch`,
        undefined,
        bearer(await (await registerClient(api, 'coordinator', 'coordination-hub')).token()),
      )
    ).body as Bundle;
    expect((audit.entry ?? []).length).toBeGreaterThanOrEqual(2);
  });
});
