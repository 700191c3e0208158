// What a FHIR client library sends beyond plain parameters, on the real server with SMART tokens:
// chained parameters (several levels: search-reverse-chains.int-spec.ts), _include:iterate / _revinclude:iterate, and _sort on indexed
// parameters. A chain or an iterated include goes only through resources the client may read: a
// CBO without a covering consent learns nothing about the patient of its own (redacted) Task.
import type { Bundle, Consent, Resource } from '@medplum/fhirtypes';
import { FhirRequestError } from '@carerelay/fhir-client';
import {
  bearer,
  bundleKeys,
  http,
  MRN,
  PLACER,
  registerClient,
  routedReferral,
  startTestFhirApi,
  type RoutedReferral,
  type TestClient,
  type TestFhirApi,
} from './fhir-api.harness';

const PLATFORM = 'carerelay-platform';
const TEMP = 'http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes';
const FOOD = `${TEMP}|food-insecurity`;

const keys = bundleKeys;
const matchIds = (bundle: Bundle) =>
  (bundle.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource!.id);

describe('search a client library expects: chains, _include:iterate, _sort', () => {
  jest.setTimeout(180_000);
  let api: TestFhirApi;
  let ehr: TestClient;
  let otherEhr: TestClient;
  let platform: TestClient;
  let cboA: TestClient;
  let cboB: TestClient;
  let a: RoutedReferral;
  let b: RoutedReferral;

  beforeAll(async () => {
    api = await startTestFhirApi({ FHIR_AUTH_DISABLED: 'false' });
    ehr = await registerClient(api, 'ehr', 'hospital-s', 'RS384');
    otherEhr = await registerClient(api, 'ehr', 'hospital-t', 'ES384');
    platform = await registerClient(api, 'platform', PLATFORM, 'ES384');
    cboA = await registerClient(api, 'cbo', 'cbo-a', 'ES384');
    cboB = await registerClient(api, 'cbo', 'cbo-b', 'RS384');
    // Two referrals of the EHR, their Consents only proposed (not in force), routed to cbo-a.
    a = await routedReferral('chain-a', ehr, platform, 'cbo-a');
    b = await routedReferral('chain-b', ehr, platform, 'cbo-a');
  });
  afterAll(async () => {
    await api?.close();
  });

  const search = async (client: TestClient, type: string, params: Record<string, string>) =>
    (await client.fhir().search(type, params)) as Bundle;

  describe('chained parameters', () => {
    it('Task?patient.identifier=system|value finds the Tasks about that patient only', async () => {
      const found = await search(platform, 'Task', { 'patient.identifier': `${MRN}|mrn-chain-a` });
      expect(keys(found)).toEqual([`Task/${a.cboTask}`, `Task/${a.task}`].sort());
    });

    it('Task?focus:ServiceRequest.category=… matches on the focus, alone or with other filters', async () => {
      const food = await search(platform, 'Task', { 'focus:ServiceRequest.category': FOOD });
      // The EHR's request and the platform's filler-order both carry the SDOH category.
      expect(keys(food)).toEqual(
        [a.task, a.cboTask, b.task, b.cboTask].map((id) => `Task/${id}`).sort(),
      );
      const fillers = await search(platform, 'Task', {
        'focus:ServiceRequest.category': FOOD,
        'focus:ServiceRequest.intent': 'filler-order',
      });
      expect(keys(fillers)).toEqual([`Task/${a.cboTask}`, `Task/${b.cboTask}`].sort());
      const both = await search(platform, 'Task', {
        'focus:ServiceRequest.intent': 'filler-order',
        'patient.identifier': `${MRN}|mrn-chain-b`,
      });
      expect(keys(both)).toEqual([`Task/${b.cboTask}`]);
      const byPlacer = await search(platform, 'Task', {
        'focus:ServiceRequest.identifier': `${PLACER}|sr-chain-a`,
      });
      expect(keys(byPlacer)).toEqual([`Task/${a.task}`]);
      const none = await search(platform, 'Task', {
        'focus:ServiceRequest.category': `${TEMP}|housing-instability`,
      });
      expect(none.total).toBe(0);
    });

    it('chains from other types and to directory resources', async () => {
      const requests = await search(ehr, 'ServiceRequest', {
        'subject:Patient.identifier': `${MRN}|mrn-chain-a`,
      });
      // Its own request, and by its grant the platform's filler-order (the referral's outcome).
      expect(keys(requests)).toEqual(
        [`ServiceRequest/${a.filler}`, `ServiceRequest/${a.sr}`].sort(),
      );
      expect(
        (
          await search(otherEhr, 'ServiceRequest', {
            'subject:Patient.identifier': `${MRN}|mrn-chain-a`,
          })
        ).total,
      ).toBe(0);
      const all = await search(platform, 'ServiceRequest', {
        'subject.identifier': `${MRN}|mrn-chain-a`,
      });
      expect(keys(all)).toEqual([`ServiceRequest/${a.filler}`, `ServiceRequest/${a.sr}`].sort());
      await platform.fhir().create({
        resourceType: 'Organization',
        name: 'Chain Pantry',
        identifier: [{ system: 'urn:test:chain', value: 'cbo-a' }],
      } as Resource);
      // A Task whose owner is a stored Organization, searched by the Organization's name.
      const org = (await search(platform, 'Organization', { name: 'Chain Pantry' })).entry![0]
        .resource!;
      const task = await platform.fhir().create({
        resourceType: 'Task',
        status: 'requested',
        intent: 'order',
        code: { text: 'call back' },
        for: { reference: `Patient/${a.patient}` },
        owner: { reference: `Organization/${org.id}` },
      } as Resource);
      const owned = await search(platform, 'Task', { 'owner:Organization.name': 'chain pantry' });
      expect(keys(owned)).toEqual([`Task/${task.id}`]);
    });

    it('an unknown chained parameter is a 400 OperationOutcome naming it; lenient skips it', async () => {
      const error = await search(platform, 'Task', {
        'focus:ServiceRequest.colour': 'red',
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FhirRequestError);
      expect((error as FhirRequestError).status).toBe(400);
      expect(JSON.stringify((error as FhirRequestError).outcome)).toContain(
        'focus:ServiceRequest.colour',
      );
      const tooDeep = await http(
        api.baseUrl,
        'GET',
        '/Task?part-of.part-of.part-of.focus:ServiceRequest.subject.name=x',
        undefined,
        bearer(await platform.token()),
      );
      expect(tooDeep.status).toBe(400);
      expect(tooDeep.body.resourceType).toBe('OperationOutcome');
      const lenient = await http(
        api.baseUrl,
        'GET',
        `/Task?focus:ServiceRequest.colour=red&_id=${a.cboTask}`,
        undefined,
        { ...bearer(await platform.token()), prefer: 'handling=lenient' },
      );
      expect(lenient.status).toBe(200);
      expect(matchIds(lenient.body)).toEqual([a.cboTask]);
      expect(JSON.stringify(lenient.body)).toContain('Ignored search parameters');
    });

    it('a chain never goes through a resource the client may not see', async () => {
      // cbo-a sees its Tasks (redacted: no consent in force), not their patient or focus.
      const own = await search(cboA, 'Task', { _id: a.cboTask });
      expect(keys(own)).toEqual([`Task/${a.cboTask}`]);
      const chains: Record<string, string>[] = [
        { 'patient.identifier': `${MRN}|mrn-chain-a` },
        { 'focus:ServiceRequest.category': FOOD },
        { 'focus:ServiceRequest.identifier': `${PLACER}|sr-chain-a` },
        { 'patient.identifier': `${MRN}|` },
        { 'subject:Patient.identifier:missing': 'false' },
        { 'part-of:Task.patient.identifier:missing': 'false' },
      ];
      for (const params of chains) {
        const found = await http(
          api.baseUrl,
          'GET',
          `/Task?${new URLSearchParams(params).toString()}&_total=accurate`,
          undefined,
          bearer(await cboA.token('system/*.rs')),
        );
        expect({ params, status: found.status, total: found.body.total }).toEqual({
          params,
          status: 200,
          total: 0,
        });
      }
      // Another hospital's own request about that patient (a reference it may hold, to a Patient it
      // may not read): the chain must not tell it the patient's identifiers.
      const theirs = await otherEhr.fhir().create({
        resourceType: 'ServiceRequest',
        status: 'active',
        intent: 'order',
        category: [{ coding: [{ system: TEMP, code: 'food-insecurity' }] }],
        code: { coding: [{ system: 'http://snomed.info/sct', code: '467771000124109' }] },
        subject: { reference: `Patient/${a.patient}` },
      } as Resource);
      expect(
        keys(await search(otherEhr, 'ServiceRequest', { subject: `Patient/${a.patient}` })),
      ).toEqual([`ServiceRequest/${theirs.id}`]);
      for (const value of [`${MRN}|mrn-chain-a`, `${MRN}|`]) {
        const chained = await search(otherEhr, 'ServiceRequest', {
          'subject:Patient.identifier': value,
        });
        expect({ value, total: chained.total }).toEqual({ value, total: 0 });
      }
      // Another CBO and another hospital: nothing either.
      for (const client of [cboB, otherEhr]) {
        const found = await search(client, 'Task', { 'patient.identifier': `${MRN}|mrn-chain-a` });
        expect(found.total).toBe(0);
      }
    });

    it('with the consent in force, the same chains find the CBO its Task', async () => {
      await ehr.fhir().updateWithIfMatch<Consent & Resource>('Consent', a.consent, (c) => ({
        ...c,
        status: 'active',
      }));
      const byPatient = await search(cboA, 'Task', { 'patient.identifier': `${MRN}|mrn-chain-a` });
      expect(keys(byPatient)).toEqual([`Task/${a.cboTask}`]);
      const byFocus = await search(cboA, 'Task', { 'focus:ServiceRequest.category': FOOD });
      // Referral b's consent is still proposed: its filler-order stays hidden.
      expect(keys(byFocus)).toEqual([`Task/${a.cboTask}`]);
      // The Task is shown whole now (matched on the patient's data, and the consent covers it).
      expect(
        (byPatient.entry![0].resource as { for?: { reference?: string } }).for?.reference,
      ).toBe(`Patient/${a.patient}`);
    });

    it('a chain to a type the token may not search is refused (403)', async () => {
      const answer = await http(
        api.baseUrl,
        'GET',
        `/Task?patient.identifier=${encodeURIComponent(`${MRN}|mrn-chain-a`)}`,
        undefined,
        bearer(await platform.token('system/Task.rs')),
      );
      expect(answer.status).toBe(403);
    });
  });

  describe('_include:iterate and _revinclude:iterate', () => {
    it('follows the includes of what was included, up to the bound', async () => {
      const plain = await search(platform, 'Task', { _id: a.cboTask, _include: 'Task:focus' });
      expect(keys(plain)).toEqual([`ServiceRequest/${a.filler}`, `Task/${a.cboTask}`].sort());
      const iterated = await search(platform, 'Task', {
        _id: a.cboTask,
        _include: 'Task:focus',
        '_include:iterate': ['ServiceRequest:based-on', 'ServiceRequest:supporting-info'],
      } as unknown as Record<string, string>);
      expect(keys(iterated)).toEqual(
        [
          `Task/${a.cboTask}`,
          `ServiceRequest/${a.filler}`,
          `ServiceRequest/${a.sr}`,
          `Consent/${a.consent}`,
        ].sort(),
      );
      expect(matchIds(iterated)).toEqual([a.cboTask]);
    });

    it('stops after MAX_INCLUDE_ITERATIONS rounds', async () => {
      // A line of Tasks, each part of the previous one: t5 → t4 → … → t0.
      const line: string[] = [];
      for (let i = 0; i <= 5; i++) {
        const task = await platform.fhir().create({
          resourceType: 'Task',
          status: 'requested',
          intent: 'order',
          code: { text: 'call back' },
          for: { reference: `Patient/${a.patient}` },
          ...(i > 0 ? { partOf: [{ reference: `Task/${line[i - 1]}` }] } : {}),
        } as Resource);
        line.push(task.id!);
      }
      const found = await search(platform, 'Task', {
        _id: line[5],
        '_include:iterate': 'Task:part-of',
      });
      // The first round (t4) and MAX_INCLUDE_ITERATIONS = 3 more (t3, t2, t1); not t0.
      expect(keys(found)).toEqual(
        line
          .slice(1)
          .map((id) => `Task/${id}`)
          .sort(),
      );
    });

    it('_revinclude:iterate follows references back through what was included', async () => {
      const plain = await search(platform, 'ServiceRequest', {
        _id: a.sr,
        _revinclude: 'Task:focus',
      });
      expect(keys(plain)).toEqual([`ServiceRequest/${a.sr}`, `Task/${a.task}`].sort());
      const iterated = await search(platform, 'ServiceRequest', {
        _id: a.sr,
        _revinclude: 'Task:focus',
        '_revinclude:iterate': 'Task:part-of',
      });
      expect(keys(iterated)).toEqual(
        [`ServiceRequest/${a.sr}`, `Task/${a.task}`, `Task/${a.cboTask}`].sort(),
      );
    });

    it('includes nothing the client may not see', async () => {
      // Referral b: consent still proposed, so cbo-a sees only its redacted Task.
      const hidden = await search(cboA, 'Task', {
        _id: b.cboTask,
        _include: 'Task:focus',
        '_include:iterate': ['ServiceRequest:based-on', 'ServiceRequest:supporting-info'],
      } as unknown as Record<string, string>);
      expect(keys(hidden)).toEqual([`Task/${b.cboTask}`]);
      // Another hospital: nothing at all.
      const other = await search(otherEhr, 'ServiceRequest', {
        _id: b.sr,
        _revinclude: 'Task:focus',
        '_revinclude:iterate': 'Task:part-of',
      });
      expect(keys(other)).toEqual([]);
      // Its own EHR sees the referral and, by its grant, the CBO's Task (the outcome), part of its own.
      const own = await search(ehr, 'ServiceRequest', {
        _id: b.sr,
        _revinclude: 'Task:focus',
        '_revinclude:iterate': 'Task:part-of',
      });
      expect(keys(own)).toEqual(
        [`ServiceRequest/${b.sr}`, `Task/${b.task}`, `Task/${b.cboTask}`].sort(),
      );
    });

    it('refuses _include:recurse and an iterated include on a non-reference parameter', async () => {
      for (const query of [
        '_include:recurse=Task:focus',
        '_include:iterate=ServiceRequest:status',
      ]) {
        const answer = await http(
          api.baseUrl,
          'GET',
          `/Task?${query}`,
          undefined,
          bearer(await platform.token()),
        );
        expect({ query, status: answer.status }).toEqual({ query, status: 400 });
      }
    });
  });

  describe('_sort', () => {
    const SORT = 'urn:test:sort';
    const made: Record<string, string> = {};

    beforeAll(async () => {
      const tasks: Record<string, Record<string, unknown>> = {
        t1: { authoredOn: '2026-01-03T10:00:00Z', priority: 'routine', status: 'requested' },
        t2: { authoredOn: '2026-01-01T10:00:00Z', priority: 'urgent', status: 'draft' },
        t3: { authoredOn: '2026-01-02T10:00:00Z', priority: 'routine', status: 'requested' },
        t4: { priority: 'asap', status: 'requested' },
      };
      for (const [name, fields] of Object.entries(tasks)) {
        const created = await platform.fhir().create({
          resourceType: 'Task',
          intent: 'order',
          code: { text: 'call back' },
          for: { reference: `Patient/${a.patient}` },
          identifier: [{ system: SORT, value: name }],
          ...fields,
        } as Resource);
        made[created.id!] = name;
      }
    });

    const sorted = async (sort: string, extra: Record<string, string> = {}) =>
      matchIds(
        await search(platform, 'Task', { identifier: `${SORT}|`, _sort: sort, ...extra }),
      ).map((id) => made[id!]);

    it('sorts by date, ascending and descending, resources without a value last', async () => {
      expect(await sorted('authored-on')).toEqual(['t2', 't3', 't1', 't4']);
      expect(await sorted('-authored-on')).toEqual(['t1', 't3', 't2', 't4']);
    });

    it('sorts by tokens and several keys', async () => {
      expect(await sorted('priority,-authored-on')).toEqual(['t4', 't1', 't3', 't2']);
      expect(await sorted('status,authored-on')).toEqual(['t2', 't3', 't1', 't4']);
    });

    it('pages stably: ties broken by id', async () => {
      const ids = Object.keys(made);
      const routine = ids.filter((id) => ['t1', 't3'].includes(made[id])).sort();
      const expected = ['t4', ...routine.map((id) => made[id]), 't2'];
      expect(await sorted('priority')).toEqual(expected);
      const walked: string[] = [];
      for (let offset = 0; offset < 4; offset++)
        walked.push(...(await sorted('priority', { _count: '1', _offset: String(offset) })));
      expect(walked).toEqual(expected);
    });

    it('sorts a CBO nothing by what redaction hides of a Task it sees redacted', async () => {
      // Referral a's consent is in force (above), b's is not: cbo-a sees b's Task redacted.
      const workflow = await search(cboA, 'Task', { _sort: '-authored-on' });
      expect(keys(workflow)).toEqual([`Task/${a.cboTask}`, `Task/${b.cboTask}`].sort());
      // period is not shown to it: ordering by it would tell what it holds.
      const hidden = await search(cboA, 'Task', { _sort: 'period' });
      expect(keys(hidden)).toEqual([`Task/${a.cboTask}`]);
    });

    it('refuses a key it cannot sort by (400), or skips it with handling=lenient', async () => {
      const refused = await search(platform, 'Task', { _sort: 'focus' }).catch((e: unknown) => e);
      expect((refused as FhirRequestError).status).toBe(400);
      const lenient = await http(
        api.baseUrl,
        'GET',
        `/Task?identifier=${encodeURIComponent(`${SORT}|`)}&_sort=focus,-authored-on`,
        undefined,
        { ...bearer(await platform.token()), prefer: 'handling=lenient' },
      );
      expect(lenient.status).toBe(200);
      expect(matchIds(lenient.body).map((id) => made[id!])).toEqual(['t1', 't3', 't2', 't4']);
    });
  });
});
