// Conditional update (PUT Type?criteria) and conditional delete (DELETE Type?criteria) as R4's
// http page describes them and as integration engines use them to upsert by business identifier;
// tenancy and visibility hold as for the plain interactions.
import { randomUUID } from 'node:crypto';
import type { Patient } from '@medplum/fhirtypes';
import {
  bearer,
  http,
  registerClient,
  startTestFhirApi,
  type TestClient,
  type TestFhirApi,
} from './fhir-api.harness';

const MRN = 'urn:test:conditional-mrn';

describe('conditional update and delete', () => {
  jest.setTimeout(120_000);
  let api: TestFhirApi;
  let ehr: TestClient;
  let otherEhr: TestClient;
  let run: string;

  beforeAll(async () => {
    api = await startTestFhirApi({ FHIR_AUTH_DISABLED: 'false' });
    run = randomUUID().slice(0, 8);
    ehr = await registerClient(api, 'ehr', `hospital-cond-${run}`, 'ES384');
    otherEhr = await registerClient(api, 'ehr', `hospital-cond-other-${run}`, 'RS384');
  });
  afterAll(async () => {
    await api?.close();
  });

  const call = async (client: TestClient, method: string, path: string, body?: unknown) =>
    http(api.baseUrl, method, path, body, bearer(await client.token()));
  const patient = (mrn: string, family: string, id?: string): Patient => ({
    resourceType: 'Patient',
    ...(id ? { id } : {}),
    identifier: [{ system: MRN, value: mrn }],
    name: [{ family, given: ['Ana'] }],
  });
  const byMrn = (mrn: string) => `identifier=${encodeURIComponent(`${MRN}|${mrn}`)}`;
  const countOf = async (client: TestClient, mrn: string) =>
    (await call(client, 'GET', `/Patient?${byMrn(mrn)}&_summary=count`)).body.total as number;

  it('creates when nothing matches, then updates the one match (an upsert by identifier)', async () => {
    const mrn = `up-${run}`;
    const created = await call(ehr, 'PUT', `/Patient?${byMrn(mrn)}`, patient(mrn, 'First'));
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const updated = await call(ehr, 'PUT', `/Patient?${byMrn(mrn)}`, patient(mrn, 'Second'));
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ id, meta: { versionId: '2' } });
    expect(updated.body.name[0].family).toBe('Second');
    expect(await countOf(ehr, mrn)).toBe(1);
  });

  it('a body id must be the matched resource’s (400); no match with an id creates that id', async () => {
    const mrn = `ids-${run}`;
    const made = await call(ehr, 'PUT', `/Patient?${byMrn(mrn)}`, patient(mrn, 'A'));
    const wrong = await call(ehr, 'PUT', `/Patient?${byMrn(mrn)}`, patient(mrn, 'B', 'not-it'));
    expect(wrong.status).toBe(400);
    expect(wrong.body.resourceType).toBe('OperationOutcome');
    const same = await call(ehr, 'PUT', `/Patient?${byMrn(mrn)}`, patient(mrn, 'B', made.body.id));
    expect(same.status).toBe(200);

    const fresh = `given-id-${run}`;
    const withId = await call(
      ehr,
      'PUT',
      `/Patient?${byMrn(`none-${run}`)}`,
      patient(`none-${run}`, 'C', fresh),
    );
    expect(withId.status).toBe(201);
    expect(withId.body.id).toBe(fresh);
  });

  it('several matches: 412 and nothing written; no criteria: refused', async () => {
    const family = `Twin${run}`;
    for (const mrn of [`t1-${run}`, `t2-${run}`])
      expect((await call(ehr, 'POST', '/Patient', patient(mrn, family))).status).toBe(201);
    const both = `family=${family}`;
    const refused = await call(ehr, 'PUT', `/Patient?${both}`, patient(`t3-${run}`, family));
    expect(refused.status).toBe(412);
    expect(await countOf(ehr, `t3-${run}`)).toBe(0);
    expect((await call(ehr, 'DELETE', `/Patient?${both}`)).status).toBe(412);
    expect((await call(ehr, 'GET', `/Patient?${both}&_summary=count`)).body.total).toBe(2);
    expect((await call(ehr, 'PUT', '/Patient', patient(`t4-${run}`, family))).status).toBe(405);
    expect((await call(ehr, 'DELETE', '/Patient')).status).toBe(405);
  });

  it('concurrent conditional updates with no match create one resource', async () => {
    const mrn = `race-${run}`;
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        call(ehr, 'PUT', `/Patient?${byMrn(mrn)}`, patient(mrn, `Racer${i}`)),
      ),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 201]);
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect(await countOf(ehr, mrn)).toBe(1);
  });

  it('another tenant’s resource is not matched: its conditional update creates its own', async () => {
    const mrn = `tenant-${run}`;
    const mine = await call(ehr, 'PUT', `/Patient?${byMrn(mrn)}`, patient(mrn, 'Mine'));
    const theirs = await call(otherEhr, 'PUT', `/Patient?${byMrn(mrn)}`, patient(mrn, 'Theirs'));
    expect(theirs.status).toBe(201);
    expect(theirs.body.id).not.toBe(mine.body.id);
    const kept = await call(ehr, 'GET', `/Patient/${mine.body.id}`);
    expect(kept.body.name[0].family).toBe('Mine');
    // Nor can it delete mine by criteria: it deletes its own only.
    expect((await call(otherEhr, 'DELETE', `/Patient?${byMrn(mrn)}`)).status).toBe(200);
    expect((await call(ehr, 'GET', `/Patient/${mine.body.id}`)).status).toBe(200);
    expect((await call(otherEhr, 'GET', `/Patient/${theirs.body.id}`)).status).toBe(410);
  });

  it('conditional delete removes the one match; with none it deletes nothing (200)', async () => {
    const mrn = `del-${run}`;
    const made = await call(ehr, 'POST', '/Patient', patient(mrn, 'Gone'));
    const deleted = await call(ehr, 'DELETE', `/Patient?${byMrn(mrn)}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body.issue[0].diagnostics).toContain(`Patient/${made.body.id} deleted`);
    expect((await call(ehr, 'GET', `/Patient/${made.body.id}`)).status).toBe(410);
    const nothing = await call(ehr, 'DELETE', `/Patient?${byMrn(mrn)}`);
    expect(nothing.status).toBe(200);
    expect(nothing.body.issue[0].diagnostics).toContain('nothing deleted');
  });

  describe('as Bundle entries', () => {
    const bundle = (type: 'transaction' | 'batch', entry: unknown[]) => ({
      resourceType: 'Bundle',
      type,
      entry,
    });
    const upsert = (mrn: string, family: string, fullUrl?: string) => ({
      ...(fullUrl ? { fullUrl } : {}),
      resource: patient(mrn, family),
      request: { method: 'PUT', url: `Patient?${byMrn(mrn)}` },
    });
    /** A Patient created in the same Bundle that links to the upserted one by its fullUrl. */
    const linked = (mrn: string, to: string) => ({
      resource: {
        ...patient(mrn, 'Linked'),
        link: [{ other: { reference: to }, type: 'seealso' }],
      },
      request: { method: 'POST', url: 'Patient' },
    });

    it('a transaction upserts by criteria, and its fullUrl resolves to the resource it acted on', async () => {
      const mrn = `tx-up-${run}`;
      const first = await call(
        ehr,
        'POST',
        '/',
        bundle('transaction', [
          upsert(mrn, 'First', 'urn:uuid:up-1'),
          linked(`tx-l1-${run}`, 'urn:uuid:up-1'),
        ]),
      );
      expect(first.status).toBe(200);
      expect(first.body.entry[0].response.status).toBe('201 Created');
      const id = first.body.entry[0].resource.id as string;
      expect(first.body.entry[1].resource.link[0].other.reference).toBe(`Patient/${id}`);

      const second = await call(
        ehr,
        'POST',
        '/',
        bundle('transaction', [
          upsert(mrn, 'Second', 'urn:uuid:up-2'),
          linked(`tx-l2-${run}`, 'urn:uuid:up-2'),
        ]),
      );
      expect(second.status).toBe(200);
      expect(second.body.entry[0].response.status).toBe('200 OK');
      expect(second.body.entry[0].resource).toMatchObject({ id, meta: { versionId: '2' } });
      expect(second.body.entry[1].resource.link[0].other.reference).toBe(`Patient/${id}`);
      expect(await countOf(ehr, mrn)).toBe(1);
    });

    it('a transaction deletes by criteria; no match deletes nothing; several fail it whole', async () => {
      const mrn = `tx-del-${run}`;
      const made = await call(ehr, 'POST', '/Patient', patient(mrn, 'Doomed'));
      const deleted = await call(
        ehr,
        'POST',
        '/',
        bundle('transaction', [
          { request: { method: 'DELETE', url: `Patient?${byMrn(mrn)}` } },
          { request: { method: 'DELETE', url: `Patient?${byMrn(`tx-none-${run}`)}` } },
        ]),
      );
      expect(deleted.status).toBe(200);
      expect(
        deleted.body.entry.map((e: { response: { status: string } }) => e.response.status),
      ).toEqual(['204 No Content', '200 OK']); // the match deleted as by DELETE Patient/id
      expect((await call(ehr, 'GET', `/Patient/${made.body.id}`)).status).toBe(410);

      const family = `TxTwin${run}`;
      for (const twin of [`tt1-${run}`, `tt2-${run}`])
        expect((await call(ehr, 'POST', '/Patient', patient(twin, family))).status).toBe(201);
      const refused = await call(
        ehr,
        'POST',
        '/',
        bundle('transaction', [
          {
            resource: patient(`tt3-${run}`, family),
            request: { method: 'PUT', url: `Patient?family=${family}` },
          },
          linked(`tt4-${run}`, `Patient?${byMrn(`tt1-${run}`)}`),
        ]),
      );
      expect(refused.status).toBe(412);
      expect(refused.body.issue[0].expression).toEqual(['Bundle.entry[0]']);
      expect(await countOf(ehr, `tt3-${run}`)).toBe(0);
      expect(await countOf(ehr, `tt4-${run}`)).toBe(0);
    });

    it('a batch upserts and deletes by criteria, each entry on its own', async () => {
      const mrn = `batch-up-${run}`;
      const answer = await call(
        ehr,
        'POST',
        '/',
        bundle('batch', [
          upsert(mrn, 'One'),
          { request: { method: 'PUT', url: 'Patient' }, resource: patient(mrn, 'NoCriteria') },
          { request: { method: 'DELETE', url: `Patient?${byMrn(`batch-none-${run}`)}` } },
        ]),
      );
      expect(answer.status).toBe(200);
      expect(
        answer.body.entry.map((e: { response: { status: string } }) => e.response.status),
      ).toEqual(['201 Created', '400 Bad Request', '200 OK']);
      const again = await call(ehr, 'POST', '/', bundle('batch', [upsert(mrn, 'Two')]));
      expect(again.body.entry[0].response.status).toBe('200 OK');
      expect(again.body.entry[0].resource.id).toBe(answer.body.entry[0].resource.id);
      expect(await countOf(ehr, mrn)).toBe(1);
    });
  });

  it('the CapabilityStatement says so', async () => {
    const statement = (await http(api.baseUrl, 'GET', '/metadata')).body;
    const patientCap = statement.rest[0].resource.find(
      (r: { type: string }) => r.type === 'Patient',
    );
    const taskCap = statement.rest[0].resource.find((r: { type: string }) => r.type === 'Task');
    expect(patientCap).toMatchObject({ conditionalUpdate: true, conditionalDelete: 'single' });
    expect(taskCap).toMatchObject({ conditionalUpdate: true, conditionalDelete: 'not-supported' });
  });
});
