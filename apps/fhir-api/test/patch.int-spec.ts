// PATCH with a JSON Patch document, as FHIR R4's http page and fhir-kit-client's `patch` use it,
// or with a FHIRPath Patch (a Parameters resource, in JSON or XML):
// the patched resource is stored by the same rules as an update (validation, the Task state
// machine, If-Match, tenancy); a bad document or a patch that cannot apply changes nothing.
import { randomUUID } from 'node:crypto';
import type {
  Bundle,
  Consent,
  Parameters,
  ParametersParameter,
  Patient,
  Resource,
  Task,
} from '@medplum/fhirtypes';
import { fhirJsonToXml } from '@carerelay/fhir';
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
const FHIR_JSON = 'application/fhir+json';

/** A FHIRPath Patch operation: its type, path and further parts. */
const operation = (type: string, path: string, ...parts: ParametersParameter[]) => ({
  name: 'operation',
  part: [{ name: 'type', valueCode: type }, { name: 'path', valueString: path }, ...parts],
});
const fhirPathPatch = (...operations: ParametersParameter[]): Parameters => ({
  resourceType: 'Parameters',
  parameter: operations,
});

describe('PATCH (JSON Patch, FHIRPath Patch)', () => {
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
    expect(fhirJson.status).toBe(400);
    const plain = await patch(ehr, path, [{ op: 'add', path: '/active', value: true }], {
      'content-type': 'text/plain',
    });
    expect(plain.status).toBe(415);
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
  describe('FHIRPath Patch', () => {
    it('patches the Patient: a new version with the change; XML Parameters too', async () => {
      const path = `/Patient/${referral.patient}`;
      const before = await read<Patient>(ehr, path);
      expect(before.birthDate).toBeDefined();
      const answer = await patch(
        ehr,
        path,
        fhirPathPatch(
          operation(
            'add',
            'Patient',
            { name: 'name', valueString: 'telecom' },
            {
              name: 'value',
              valueContactPoint: { system: 'email', value: 'fhirpath@example.org' },
            },
          ),
          operation('delete', 'Patient.birthDate'),
        ),
        { 'content-type': FHIR_JSON },
      );
      expect(answer.status).toBe(200);
      const after = answer.body as Patient;
      expect(Number(after.meta!.versionId)).toBe(Number(before.meta!.versionId) + 1);
      expect(after.telecom).toEqual([
        ...(before.telecom ?? []),
        { system: 'email', value: 'fhirpath@example.org' },
      ]);
      expect(after.birthDate).toBeUndefined();
      expect(await read<Patient>(ehr, path)).toEqual(after);

      const xml = await patch(
        ehr,
        path,
        fhirJsonToXml(
          fhirPathPatch(
            operation('replace', "Patient.telecom.where(value = 'fhirpath@example.org').value", {
              name: 'value',
              valueString: 'xml@example.org',
            }),
          ),
        ),
        { 'content-type': 'application/fhir+xml', 'if-match': `W/"${after.meta!.versionId}"` },
      );
      expect(xml.status).toBe(200);
      expect((xml.body as Patient).telecom!.at(-1)).toEqual({
        system: 'email',
        value: 'xml@example.org',
      });
    });

    it('the Task rules of JSON Patch: If-Match, the state machine, what the owner may change', async () => {
      const path = `/Task/${referral.cboTask}`;
      const before = await read<Task>(cbo, path);
      const status = (code: string) =>
        fhirPathPatch(operation('replace', 'Task.status', { name: 'value', valueCode: code }));
      const stale = await patch(cbo, path, status('on-hold'), {
        'content-type': FHIR_JSON,
        'if-match': `W/"${Number(before.meta!.versionId) + 5}"`,
      });
      expect(stale.status).toBe(412);
      const illegal = await patch(cbo, path, status('requested'), { 'content-type': FHIR_JSON });
      expect(illegal.status).toBe(422);
      const notOwners = await patch(
        cbo,
        path,
        fhirPathPatch(
          operation(
            'add',
            'Task',
            { name: 'name', valueString: 'priority' },
            {
              name: 'value',
              valueCode: 'stat',
            },
          ),
        ),
        { 'content-type': FHIR_JSON },
      );
      expect(notOwners.status).toBe(403);
      expect(await read<Task>(cbo, path)).toEqual(before);

      const next = before.status === 'on-hold' ? 'in-progress' : 'on-hold';
      const moved = await patch(cbo, path, status(next), {
        'content-type': FHIR_JSON,
        'if-match': `W/"${before.meta!.versionId}"`,
      });
      expect(moved.status).toBe(200);
      expect((moved.body as Task).status).toBe(next);
    });

    it('a bad Parameters is a 400, an operation that cannot apply a 422 — nothing changes', async () => {
      const path = `/Patient/${referral.patient}`;
      const before = await read<Patient>(ehr, path);
      for (const document of [
        { resourceType: 'Patient' },
        fhirPathPatch(operation('upsert', 'Patient.active')),
        fhirPathPatch(operation('delete', 'Patient.name.where(')),
        fhirPathPatch(operation('replace', 'Patient.id', { name: 'value', valueId: 'other' })),
        fhirPathPatch(
          operation('replace', 'Patient.gender', { name: 'value', valueCode: 'robot' }),
        ),
      ]) {
        const answer = await patch(ehr, path, document, { 'content-type': FHIR_JSON });
        expect({ document, status: answer.status }).toEqual({ document, status: 400 });
        expect(answer.body.resourceType).toBe('OperationOutcome');
      }
      for (const document of [
        fhirPathPatch(
          operation('replace', 'Patient.deceasedDateTime', {
            name: 'value',
            valueDateTime: '2020',
          }),
        ),
        fhirPathPatch(
          operation('replace', "'not an element'", { name: 'value', valueString: 'x' }),
        ),
      ]) {
        const answer = await patch(ehr, path, document, { 'content-type': FHIR_JSON });
        expect({ document, status: answer.status }).toEqual({ document, status: 422 });
      }
      expect(await read<Patient>(ehr, path)).toEqual(before);
    });
  });
});
