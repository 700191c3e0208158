// One disclosure decision, every channel: a CBO's Task whose patient no consent covers is shown
// redacted ("awaiting consent") — the same through read, vread, search, _include, _revinclude,
// instance and type history, batch, transaction, a conditional-create match and Subscription
// notifications (id-only and full-resource) — and is never matched by a search or subscription
// filter on patient data (`Task?patient=<id>&_summary=count` is no patient-id oracle). Once a
// consent covers the patient, every channel shows the Task in full; AuditEvents are readable by
// coordinators only and name what the CBO was shown. Real SMART tokens, PostgreSQL and Kafka.
import type { AuditEvent, Bundle, Consent, Resource, Task } from '@medplum/fhirtypes';
import { TOPICS } from '@carerelay/contracts';
import { startGroupAtLatest, uniqueName, waitFor } from '@carerelay/testing';
import { SUBSCRIPTION_MIGRATIONS, SubscriptionsModule } from '../src/subscriptions';
import {
  bearer,
  http,
  registerClient,
  routedReferral,
  startHookEndpoint,
  startTestFhirApi,
  taskSubscription,
  type RoutedReferral,
  type TestClient,
  type TestFhirApi,
} from './fhir-api.harness';

const PLATFORM = 'carerelay-platform';
const CBO = 'cbo-channels';
const DAR = 'http://hl7.org/fhir/StructureDefinition/data-absent-reason';

describe('the consent decision in every channel', () => {
  jest.setTimeout(180_000);
  let api: TestFhirApi;
  let hook: Awaited<ReturnType<typeof startHookEndpoint>>;
  let ehr: TestClient;
  let platform: TestClient;
  let cbo: TestClient;
  let coordinator: TestClient;
  let ids: RoutedReferral;
  const subs = { full: '', byPatient: '', countByPatient: 0 };

  beforeAll(async () => {
    const base = { url: '' };
    const groupId = uniqueName('fhir-api-subscriptions');
    await startGroupAtLatest(groupId, [TOPICS.fhirChanges.name]);
    api = await startTestFhirApi(
      { FHIR_AUTH_DISABLED: 'false', SUBSCRIPTION_ALLOWED_HTTP_HOSTS: '127.0.0.1' },
      {
        imports: [SubscriptionsModule.register({ baseUrl: () => base.url, groupId, pollMs: 100 })],
        migrations: SUBSCRIPTION_MIGRATIONS,
      },
    );
    base.url = api.baseUrl;
    hook = await startHookEndpoint();
    ehr = await registerClient(api, 'ehr', 'hospital-channels', 'RS384');
    platform = await registerClient(api, 'platform', PLATFORM, 'ES384');
    cbo = await registerClient(api, 'cbo', CBO, 'ES384');
    coordinator = await registerClient(api, 'coordinator', 'network-office', 'ES384');
    // The CBO's directory entry (readable by everyone), for _revinclude=Task:owner.
    const org = await http(
      api.baseUrl,
      'PUT',
      `/Organization/${CBO}`,
      { resourceType: 'Organization', id: CBO, name: 'Channels CBO' },
      bearer(await platform.token()),
    );
    expect(org.status).toBe(201);
  });
  afterAll(async () => {
    await api?.close();
    await hook?.close();
  });

  const as = async (client: TestClient, method: string, path: string, body?: unknown) =>
    http(api.baseUrl, method, path, body, bearer(await client.token('system/*.rs')));
  const get = (client: TestClient, path: string) => as(client, 'GET', path);
  const resources = (bundle: Bundle): Resource[] =>
    (bundle.entry ?? []).map((e) => e.resource!).filter(Boolean);

  /** Nothing of the patient: no name, no reference to the Patient, no description. */
  function expectRedacted(task: Task, where: string) {
    const text = JSON.stringify(task);
    expect({ where, businessStatus: task.businessStatus?.text }).toEqual({
      where,
      businessStatus: 'awaiting consent',
    });
    expect({ where, for: task.for }).toEqual({
      where,
      for: { extension: [{ url: DAR, valueCode: 'masked' }] },
    });
    expect({
      where,
      leaks: ['COLIN', 'Colin', ids.patient].filter((s) => text.includes(s)),
    }).toEqual({ where, leaks: [] });
  }

  describe('without a consent in force', () => {
    beforeAll(async () => {
      // The CBO subscribes before the referral reaches it: full-resource on its Tasks, and
      // id-only on the patient it will be sent (it learns the id only later in a real attack;
      // here it is known, which is the worst case).
      ids = { patient: '', sr: '', task: '', consent: '', filler: '', cboTask: '' };
      const full = await http(
        api.baseUrl,
        'POST',
        '/Subscription',
        taskSubscription(`Task?owner=Organization/${CBO}`, hook.url, 'full-resource'),
        bearer(await cbo.token('system/Task.rs system/Subscription.cruds')),
      );
      expect(full.status).toBe(201);
      subs.full = full.body.id;
      ids = await routedReferral(uniqueName('channels'), ehr, platform, CBO);
      const byPatient = await http(
        api.baseUrl,
        'POST',
        '/Subscription',
        taskSubscription(`Task?patient=Patient/${ids.patient}`, hook.url, 'id-only'),
        bearer(await cbo.token('system/Task.rs system/Subscription.cruds')),
      );
      expect(byPatient.status).toBe(201);
      subs.byPatient = byPatient.body.id;
      await waitFor(() => hook.notificationsOf(subs.full).length >= 1, {
        what: 'the full-resource notification of the routed Task',
        timeoutMs: 60_000,
      });
    });

    it('read, vread, search, _include, _revinclude, history: the Task redacted, nothing else', async () => {
      expectRedacted((await get(cbo, `/Task/${ids.cboTask}`)).body, 'read');
      expectRedacted((await get(cbo, `/Task/${ids.cboTask}/_history/1`)).body, 'vread');
      const search = await get(cbo, `/Task?owner=Organization/${CBO}`);
      expect(resources(search.body).map((r) => r.id)).toEqual([ids.cboTask]);
      expectRedacted(resources(search.body)[0] as Task, 'search');
      const included = await get(
        cbo,
        `/Task?_id=${ids.cboTask}&_include=Task:patient&_include=Task:focus&_include=Task:part-of`,
      );
      expect(resources(included.body).map((r) => `${r.resourceType}/${r.id}`)).toEqual([
        `Task/${ids.cboTask}`,
      ]);
      expectRedacted(resources(included.body)[0] as Task, '_include');
      const revincluded = await get(cbo, `/Organization?_id=${CBO}&_revinclude=Task:owner`);
      const revTasks = resources(revincluded.body).filter((r) => r.resourceType === 'Task');
      expect(revTasks.map((r) => r.id)).toEqual([ids.cboTask]);
      expectRedacted(revTasks[0] as Task, '_revinclude');
      for (const path of [`/Task/${ids.cboTask}/_history`, '/Task/_history']) {
        const history = await get(cbo, path);
        expect(history.status).toBe(200);
        const tasks = resources(history.body);
        expect(tasks.length).toBeGreaterThan(0);
        for (const task of tasks) expectRedacted(task as Task, path);
      }
      for (const path of [`/Patient/${ids.patient}`, `/ServiceRequest/${ids.filler}`])
        expect((await get(cbo, path)).status).toBe(404);
    });

    it('a search on patient data matches nothing: no patient-id oracle, not even a count', async () => {
      for (const query of [
        `patient=Patient/${ids.patient}`,
        `patient=Patient/${ids.patient}&_summary=count`,
        `subject=Patient/${ids.patient}&_summary=count`,
        `patient:missing=false&_summary=count`,
        `patient=Patient/no-such-patient&_summary=count`,
      ]) {
        const answer = await get(cbo, `/Task?${query}`);
        expect({ query, status: answer.status, total: answer.body.total }).toEqual({
          query,
          status: 200,
          total: 0,
        });
        expect({
          query,
          entries: resources(answer.body).filter((r) => r.resourceType === 'Task'),
        }).toEqual({ query, entries: [] });
      }
      // The workflow search still finds it (redacted): the Task is the CBO's to work on.
      const count = await get(cbo, `/Task?owner=Organization/${CBO}&_summary=count`);
      expect(count.body.total).toBe(1);
    });

    it('batch and transaction answers: the same redaction, the same empty patient search', async () => {
      for (const type of ['batch', 'transaction']) {
        const answer = await as(cbo, 'POST', '', {
          resourceType: 'Bundle',
          type,
          entry: [
            { request: { method: 'GET', url: `Task/${ids.cboTask}` } },
            { request: { method: 'GET', url: `Task/${ids.cboTask}/_history` } },
            { request: { method: 'GET', url: `Task?patient=Patient/${ids.patient}` } },
            { request: { method: 'GET', url: `Task?owner=Organization/${CBO}` } },
            // A transaction fails as a whole on a 404: the Patient only in the batch.
            ...(type === 'batch'
              ? [{ request: { method: 'GET', url: `Patient/${ids.patient}` } }]
              : []),
          ],
        });
        expect({ type, status: answer.status }).toEqual({ type, status: 200 });
        const [read, history, byPatient, byOwner, patient] = answer.body.entry;
        expectRedacted(read.resource, `${type} read`);
        for (const entry of history.resource.entry)
          expectRedacted(entry.resource, `${type} history`);
        expect(byPatient.resource.total).toBe(0);
        expectRedacted(byOwner.resource.entry[0].resource, `${type} search`);
        expect(JSON.stringify(answer.body)).not.toContain('COLIN');
        if (type === 'batch') expect(patient.response.status).toMatch(/^404/);
      }
    });

    it('Subscription notifications: full-resource carries exactly the REST read, a patient filter never fires', async () => {
      const [first] = hook.notificationsOf(subs.full);
      const entry = first.bundle.entry[1];
      expect(entry.fullUrl).toBe(`${api.baseUrl}/Task/${ids.cboTask}`);
      expectRedacted(entry.resource, 'full-resource notification');
      const version = entry.response.etag.replace(/^W\/"|"$/g, '');
      const rest = await get(cbo, `/Task/${ids.cboTask}/_history/${version}`);
      expect(entry.resource).toEqual(rest.body);
      const status = await http(
        api.baseUrl,
        'GET',
        `/Subscription/${subs.byPatient}/$status`,
        undefined,
        bearer(await cbo.token('system/Subscription.rs')),
      );
      const params = status.body.entry[0].resource.parameter as {
        name: string;
        valueString?: string;
      }[];
      expect(params.find((p) => p.name === 'events-since-subscription-start')!.valueString).toBe(
        '0',
      );
      expect(hook.notificationsOf(subs.byPatient)).toHaveLength(0);
    });

    it('AuditEvents: coordinators only; what the CBO did names its Task, never the patient', async () => {
      expect((await get(cbo, '/AuditEvent')).status).toBe(403);
      expect((await get(ehr, '/AuditEvent')).status).toBe(403);
      const audit = await get(coordinator, `/AuditEvent?agent=${cbo.clientId}&_count=200`);
      expect(audit.status).toBe(200);
      const events = resources(audit.body) as AuditEvent[];
      expect(events.length).toBeGreaterThan(5);
      // What the CBO was shown (successful interactions) names its Task only; its refused
      // attempts on the Patient are audited too, as refusals (outcome 4).
      const named = (outcome: string) =>
        events
          .filter((e) => e.outcome === outcome)
          .flatMap((e) => (e.entity ?? []).map((x) => x.what?.reference ?? ''));
      expect(named('0')).toContain(`Task/${ids.cboTask}/_history/1`);
      expect(named('0').filter((ref) => /^(Patient|ServiceRequest|Consent)\//.test(ref))).toEqual(
        [],
      );
      expect(named('4')).toContain(`Patient/${ids.patient}`);
    });
  });

  describe('once a consent covers the patient', () => {
    beforeAll(async () => {
      await ehr.fhir().updateWithIfMatch<Consent & Resource>('Consent', ids.consent, (c) => ({
        ...c,
        status: 'active',
      }));
      // The CBO accepts its Task: a new version, notified to both subscriptions now.
      const read = await get(cbo, `/Task/${ids.cboTask}`);
      const accepted = await http(
        api.baseUrl,
        'PUT',
        `/Task/${ids.cboTask}`,
        { ...read.body, status: 'accepted' },
        { ...bearer(await cbo.token()), 'if-match': read.headers.get('etag')! },
      );
      expect(accepted.status).toBe(200);
      await waitFor(
        () =>
          hook.notificationsOf(subs.full).length >= 2 &&
          hook.notificationsOf(subs.byPatient).length >= 1,
        { what: 'the notifications of the accepted Task', timeoutMs: 60_000 },
      );
    });

    it('every channel shows the Task in full, the same everywhere', async () => {
      const read = (await get(cbo, `/Task/${ids.cboTask}`)).body as Task;
      expect(read.for?.reference).toBe(`Patient/${ids.patient}`);
      expect(read.description).toBe('Food pantry application for Colin');
      const notified = hook.notificationsOf(subs.full)[1].bundle.entry[1].resource;
      expect(notified).toEqual(read);
      const byPatient = await get(cbo, `/Task?patient=Patient/${ids.patient}&_summary=count`);
      expect(byPatient.body.total).toBe(1);
      const batch = await as(cbo, 'POST', '', {
        resourceType: 'Bundle',
        type: 'batch',
        entry: [{ request: { method: 'GET', url: `Task/${ids.cboTask}` } }],
      });
      expect(batch.body.entry[0].resource).toEqual(read);
      const history = await get(cbo, `/Task/${ids.cboTask}/_history`);
      expect(history.body.entry[0].resource).toEqual(read);
    });
  });
});
