// Chains of several levels, _has reverse chaining, composite parameters and the IG's
// ServiceRequest:pertains-to-goal, as a FHIR client library sends them, on the real server with
// SMART tokens. Like a one-level chain, each goes only through resources the client may read, and
// one that looks at what a redacted Task hides finds a CBO without consent nothing.
import type { Bundle, Consent, Resource } from '@medplum/fhirtypes';
import {
  bearer,
  bundleKeys,
  http,
  MRN,
  registerClient,
  routedReferral,
  startTestFhirApi,
  type RoutedReferral,
  type TestClient,
  type TestFhirApi,
} from './fhir-api.harness';
import { FhirSearchIndexComposite1733200000000 } from '../src/store/search-index-composite.migration';

const PLATFORM = 'carerelay-platform';
const PERTAINS_TO_GOAL = 'http://hl7.org/fhir/StructureDefinition/resource-pertainsToGoal';

const keys = bundleKeys;

describe('search: deep chains, _has, composites, pertains-to-goal', () => {
  jest.setTimeout(180_000);
  let api: TestFhirApi;
  let ehr: TestClient;
  let otherEhr: TestClient;
  let platform: TestClient;
  let cboA: TestClient;
  let a: RoutedReferral;
  let b: RoutedReferral;

  beforeAll(async () => {
    api = await startTestFhirApi({ FHIR_AUTH_DISABLED: 'false' });
    ehr = await registerClient(api, 'ehr', 'hospital-d', 'RS384');
    otherEhr = await registerClient(api, 'ehr', 'hospital-e', 'ES384');
    platform = await registerClient(api, 'platform', PLATFORM, 'ES384');
    cboA = await registerClient(api, 'cbo', 'cbo-a', 'ES384');
    // Two referrals, their Consents only proposed (not in force), routed to cbo-a.
    a = await routedReferral('deep-a', ehr, platform, 'cbo-a');
    b = await routedReferral('deep-b', ehr, platform, 'cbo-a');
    // cbo-a's Organization, part of a network, both stored (directory data, readable by all).
    const network = await platform.fhir().create({
      resourceType: 'Organization',
      name: 'Deep Food Network',
    } as Resource);
    await (
      await platform.fhir().raw()
    ).update({
      resourceType: 'Organization',
      id: 'cbo-a',
      body: {
        resourceType: 'Organization',
        id: 'cbo-a',
        name: 'Deep Pantry',
        partOf: { reference: `Organization/${network.id}` },
      },
    });
  });
  afterAll(async () => {
    await api?.close();
  });

  const search = async (client: TestClient, type: string, params: Record<string, string>) =>
    (await client.fhir().search(type, params)) as Bundle;
  const status = async (client: TestClient, path: string, scope?: string) =>
    (await http(api.baseUrl, 'GET', path, undefined, bearer(await client.token(scope)))).status;

  describe('chains of more than one level', () => {
    it('Task?focus:ServiceRequest.patient.identifier=… goes through the focus to its patient', async () => {
      const found = await search(platform, 'Task', {
        'focus:ServiceRequest.patient.identifier': `${MRN}|mrn-deep-a`,
      });
      // The EHR's Task (focus: its request) and the CBO's (focus: the filler-order).
      expect(keys(found)).toEqual([`Task/${a.cboTask}`, `Task/${a.task}`].sort());
    });

    it('three levels, and typed levels: part-of:Task.focus:ServiceRequest.subject:Patient.identifier', async () => {
      const found = await search(platform, 'Task', {
        'part-of:Task.focus:ServiceRequest.subject:Patient.identifier': `${MRN}|mrn-deep-b`,
      });
      expect(keys(found)).toEqual([`Task/${b.cboTask}`]);
    });

    it('Task?focus:ServiceRequest.requester:Organization.name=… reaches a directory resource', async () => {
      const clinic = await platform.fhir().create({
        resourceType: 'Organization',
        name: 'Deep Chain Clinic',
      } as Resource);
      const request = await platform.fhir().create({
        resourceType: 'ServiceRequest',
        status: 'active',
        intent: 'order',
        code: { coding: [{ system: 'http://snomed.info/sct', code: '467771000124109' }] },
        subject: { reference: `Patient/${a.patient}` },
        requester: { reference: `Organization/${clinic.id}` },
      } as Resource);
      const task = await platform.fhir().create({
        resourceType: 'Task',
        status: 'requested',
        intent: 'order',
        code: { text: 'call back' },
        for: { reference: `Patient/${a.patient}` },
        focus: { reference: `ServiceRequest/${request.id}` },
      } as Resource);
      const found = await search(platform, 'Task', {
        'focus:ServiceRequest.requester:Organization.name': 'deep chain clinic',
      });
      expect(keys(found)).toEqual([`Task/${task.id}`]);
    });

    it('more than 3 levels is a 400 naming the chain; lenient skips it', async () => {
      const deep = '/Task?part-of.part-of.part-of.part-of.status=requested';
      const answer = await http(
        api.baseUrl,
        'GET',
        deep,
        undefined,
        bearer(await platform.token()),
      );
      expect(answer.status).toBe(400);
      expect(JSON.stringify(answer.body)).toContain('part-of.part-of.part-of.part-of.status');
      const lenient = await http(api.baseUrl, 'GET', `${deep}&_id=${a.cboTask}`, undefined, {
        ...bearer(await platform.token()),
        prefer: 'handling=lenient',
      });
      expect(lenient.status).toBe(200);
      expect(keys(lenient.body)).toEqual([`Task/${a.cboTask}`]);
    });

    it('never goes through a resource the client may not read, at any level', async () => {
      for (const client of [cboA, otherEhr]) {
        const found = await search(client, 'Task', {
          'focus:ServiceRequest.patient.identifier': `${MRN}|mrn-deep-a`,
          _total: 'accurate',
        });
        expect(found.total).toBe(0);
      }
      // The EHR sees its own Task, its request and patient: found through both levels.
      const own = await search(ehr, 'Task', {
        'focus:ServiceRequest.patient.identifier': `${MRN}|mrn-deep-a`,
      });
      expect(keys(own)).toContain(`Task/${a.task}`);
    });

    it('a chain only through directory resources still finds a CBO its redacted Task; one through patient data does not', async () => {
      const throughDirectory = await search(cboA, 'Task', {
        'owner:Organization.partof:Organization.name': 'Deep Food Network',
      });
      expect(keys(throughDirectory)).toEqual([`Task/${a.cboTask}`, `Task/${b.cboTask}`].sort());
      // Redacted (no consent in force): matched on workflow data only.
      expect(JSON.stringify(throughDirectory)).toContain('REDACTED');
      const throughPatientData = await search(cboA, 'Task', {
        'focus:ServiceRequest.performer:Organization.name': 'Deep Pantry',
        _total: 'accurate',
      });
      expect(throughPatientData.total).toBe(0);
    });

    it('a level of a type the token may not search is refused (403)', async () => {
      const path = `/Task?focus:ServiceRequest.patient.identifier=${encodeURIComponent(`${MRN}|mrn-deep-a`)}`;
      expect(await status(platform, path, 'system/Task.rs system/ServiceRequest.rs')).toBe(403);
    });
  });

  describe('_has (reverse chaining)', () => {
    it('Patient?_has:Task:patient:status=… finds the patients of matching Tasks', async () => {
      const found = await search(platform, 'Patient', {
        '_has:Task:patient:status': 'requested',
        identifier: `${MRN}|mrn-deep-a`,
      });
      expect(keys(found)).toEqual([`Patient/${a.patient}`]);
      const none = await search(platform, 'Patient', {
        '_has:Task:patient:status': 'completed',
        identifier: `${MRN}|mrn-deep-a`,
      });
      expect(none.total).toBe(0);
    });

    it('ServiceRequest?_has:Task:focus:owner=Organization/… finds the requests routed to a CBO', async () => {
      const found = await search(platform, 'ServiceRequest', {
        '_has:Task:focus:owner': 'Organization/cbo-a',
      });
      expect(keys(found)).toEqual(
        [`ServiceRequest/${a.filler}`, `ServiceRequest/${b.filler}`].sort(),
      );
    });

    it('nests _has and chains from the source type', async () => {
      // Patients with a Task that has a sub-Task owned by cbo-a.
      const nested = await search(platform, 'Patient', {
        '_has:Task:patient:_has:Task:part-of:owner': 'Organization/cbo-a',
      });
      expect(keys(nested)).toEqual([`Patient/${a.patient}`, `Patient/${b.patient}`].sort());
      const chained = await search(platform, 'ServiceRequest', {
        '_has:Task:focus:part-of:Task.identifier': `http://hospital.smarthealthit.org/referrals|task-deep-b`,
      });
      expect(keys(chained)).toEqual([`ServiceRequest/${b.filler}`]);
    });

    it('matches only through resources the client may read', async () => {
      const hiddenOwner = await platform.fhir().create({
        resourceType: 'Organization',
        name: 'Deep Hidden Owner',
      } as Resource);
      await platform.fhir().create({
        resourceType: 'Task',
        status: 'on-hold',
        intent: 'order',
        code: { text: 'internal' },
        owner: { reference: `Organization/${hiddenOwner.id}` },
      } as Resource);
      const query = { name: 'Deep Hidden Owner', '_has:Task:owner:status': 'on-hold' };
      expect(keys(await search(platform, 'Organization', query))).toEqual([
        `Organization/${hiddenOwner.id}`,
      ]);
      // The Organization is directory data cbo-a reads; the Task is not its own.
      expect((await search(cboA, 'Organization', { name: 'Deep Hidden Owner' })).total).toBe(1);
      expect((await search(cboA, 'Organization', query)).total).toBe(0);
    });

    it('does not match through what a redacted Task hides, until the consent covers it', async () => {
      // cbo-a's own Tasks are readable redacted: their status is workflow, their patient is not.
      const byPatient = { '_has:Task:owner:patient': `Patient/${a.patient}` };
      expect((await search(cboA, 'Organization', byPatient)).total).toBe(0);
      expect(keys(await search(platform, 'Organization', byPatient))).toEqual([
        'Organization/cbo-a',
      ]);
      await ehr.fhir().updateWithIfMatch<Consent & Resource>('Consent', a.consent, (c) => ({
        ...c,
        status: 'active',
      }));
      expect(keys(await search(cboA, 'Organization', byPatient))).toEqual(['Organization/cbo-a']);
    });

    it('refuses a malformed _has (400) and one to a type the token may not search (403)', async () => {
      for (const query of [
        '_has:Task:patient=requested',
        '_has:Task:status:status=requested',
        '_has:Task:patient:colour=red',
        '_has:Bogus:patient:status=x',
      ])
        expect({ query, status: await status(platform, `/Patient?${query}`) }).toEqual({
          query,
          status: 400,
        });
      expect(
        await status(platform, '/Patient?_has:Task:patient:status=requested', 'system/Patient.rs'),
      ).toBe(403);
    });
  });

  describe('composite parameters', () => {
    it('Group?characteristic-value=code$value matches both on one characteristic', async () => {
      const group = await platform.fhir().create({
        resourceType: 'Group',
        type: 'person',
        actual: false,
        characteristic: [
          {
            code: { coding: [{ system: 'urn:test:deep', code: 'need' }] },
            valueCodeableConcept: { coding: [{ system: 'urn:test:deep', code: 'food' }] },
            exclude: false,
          },
          {
            code: { coding: [{ system: 'urn:test:deep', code: 'region' }] },
            valueCodeableConcept: { coding: [{ system: 'urn:test:deep', code: 'north' }] },
            exclude: false,
          },
        ],
      } as Resource);
      const match = (value: string) =>
        search(platform, 'Group', { 'characteristic-value': value }).then(keys);
      expect(await match('urn:test:deep|need$urn:test:deep|food')).toEqual([`Group/${group.id}`]);
      expect(await match('region$north')).toEqual([`Group/${group.id}`]);
      // Both codes are there, on different characteristics: no match.
      expect(await match('need$north')).toEqual([]);
      expect(await match('need$north,region$north')).toEqual([`Group/${group.id}`]);
      expect(await status(platform, '/Group?characteristic-value=need')).toBe(400);
    });

    it('Questionnaire?context-type-value=type$value', async () => {
      const questionnaire = await platform.fhir().create({
        resourceType: 'Questionnaire',
        status: 'active',
        useContext: [
          {
            code: {
              system: 'http://terminology.hl7.org/CodeSystem/usage-context-type',
              code: 'focus',
            },
            valueCodeableConcept: { coding: [{ system: 'urn:test:deep', code: 'food' }] },
          },
        ],
      } as Resource);
      const found = await search(platform, 'Questionnaire', {
        'context-type-value': 'focus$urn:test:deep|food',
      });
      expect(keys(found)).toEqual([`Questionnaire/${questionnaire.id}`]);
      expect(
        (await search(platform, 'Questionnaire', { 'context-type-value': 'user$food' })).total,
      ).toBe(0);
    });
  });

  describe('ServiceRequest pertains-to-goal', () => {
    let goal: Resource;
    let request: Resource;

    beforeAll(async () => {
      goal = await ehr.fhir().create({
        resourceType: 'Goal',
        lifecycleStatus: 'active',
        description: { coding: [{ system: 'http://snomed.info/sct', code: '1078229009' }] },
        subject: { reference: `Patient/${a.patient}` },
      } as Resource);
      request = await ehr.fhir().create({
        resourceType: 'ServiceRequest',
        extension: [{ url: PERTAINS_TO_GOAL, valueReference: { reference: `Goal/${goal.id}` } }],
        status: 'active',
        intent: 'order',
        code: { coding: [{ system: 'http://snomed.info/sct', code: '467771000124109' }] },
        subject: { reference: `Patient/${a.patient}` },
      } as Resource);
    });

    it('is searched, included and reverse-chained', async () => {
      const found = await search(ehr, 'ServiceRequest', { 'pertains-to-goal': `Goal/${goal.id}` });
      expect(keys(found)).toEqual([`ServiceRequest/${request.id}`]);
      const included = await search(ehr, 'ServiceRequest', {
        _id: request.id!,
        _include: 'ServiceRequest:pertains-to-goal',
      });
      expect(keys(included)).toEqual([`Goal/${goal.id}`, `ServiceRequest/${request.id}`].sort());
      const goals = await search(ehr, 'Goal', {
        '_has:ServiceRequest:pertains-to-goal:status': 'active',
      });
      expect(keys(goals)).toEqual([`Goal/${goal.id}`]);
      expect(
        (await search(otherEhr, 'ServiceRequest', { 'pertains-to-goal': `Goal/${goal.id}` })).total,
      ).toBe(0);
    });

    it('the migration indexes resources stored before it', async () => {
      // As a store of the previous version: no composite columns, no rows of the new parameters.
      const migration = new FhirSearchIndexComposite1733200000000();
      const runner = api.db.createQueryRunner();
      try {
        await migration.down(runner);
        expect(
          await api.count(
            `SELECT count(*) AS n FROM $schema.search_index WHERE param IN ('pertains-to-goal', 'characteristic-value')`,
          ),
        ).toBe(0);
        await migration.up(runner);
      } finally {
        await runner.release();
      }
      const found = await search(ehr, 'ServiceRequest', { 'pertains-to-goal': `Goal/${goal.id}` });
      expect(keys(found)).toEqual([`ServiceRequest/${request.id}`]);
      expect((await search(platform, 'Group', { 'characteristic-value': 'need$food' })).total).toBe(
        1,
      );
    });
  });
});
