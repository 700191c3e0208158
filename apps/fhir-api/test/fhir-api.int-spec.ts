import { Agent as HttpAgent, get as httpGet } from 'node:http';
import type { Socket } from 'node:net';
import type { Bundle, Resource, Task } from '@medplum/fhirtypes';
import { extractSearchIndex } from '@carerelay/fhir';
import { collectTopics, waitFor } from '@carerelay/testing';
import {
  fhirKitClient,
  http,
  MRN,
  PLACER,
  PRACTITIONER_ROLE,
  referralBundle,
  startTestFhirApi,
  storeCounts,
  TestFhirApi,
} from './fhir-api.harness';

const FHIR_CHANGES = 'fhir.changes.v1';

const idOf = (entry: { response?: { location?: string } }) =>
  entry.response!.location!.split('/')[1];

describe('fhir-api on real PostgreSQL and Kafka', () => {
  jest.setTimeout(120_000);
  let api: TestFhirApi;
  let collector: Awaited<ReturnType<typeof collectTopics>>;

  beforeAll(async () => {
    api = await startTestFhirApi();
    collector = await collectTopics([FHIR_CHANGES]);
  });
  afterAll(async () => {
    await collector?.stop();
    await api?.close();
  });

  const eventsFor = (resourceType: string, id: string) =>
    collector.messages
      .filter((m) => m.key === `${resourceType}/${id}`)
      .map((m) => ({ type: m.headers.ce_type, data: JSON.parse(m.value!) }));

  it('answers GET /metadata with a CapabilityStatement of what it does', async () => {
    const answer = await http(api.baseUrl, 'GET', '/metadata');
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
    const rest = answer.body.rest[0];
    expect(answer.body).toMatchObject({
      resourceType: 'CapabilityStatement',
      fhirVersion: '4.0.1',
    });
    expect(rest.interaction.map((i: { code: string }) => i.code).sort()).toEqual([
      'batch',
      'transaction',
    ]);
    const task = rest.resource.find((r: { type: string }) => r.type === 'Task');
    expect(task.interaction.map((i: { code: string }) => i.code)).toEqual(
      expect.arrayContaining([
        'read',
        'vread',
        'create',
        'update',
        'search-type',
        'history-instance',
      ]),
    );
    expect(task.interaction.map((i: { code: string }) => i.code)).not.toContain('delete');
    expect(task.searchInclude).toEqual(['Task:focus', 'Task:output']);
    const params = task.searchParam.map((p: { name: string }) => p.name);
    expect(params).toEqual(
      expect.arrayContaining([
        '_id',
        '_lastUpdated',
        'code',
        'patient',
        'requester',
        'status',
        'focus',
        'owner',
        'output',
        'part-of',
        'identifier',
        'business-status',
      ]),
    );
    expect(rest.resource).toHaveLength(23); // the 20 IG types, Coverage, AuditEvent and Endpoint
  });

  describe('an EHR (fhir-kit-client) sends a referral as a transaction Bundle', () => {
    const before = new Date(Date.now() - 1000).toISOString();
    let response: Bundle;
    const bundle = referralBundle('ehr-flow');

    beforeAll(async () => {
      response = await fhirKitClient(api.baseUrl).transaction({ body: bundle });
    });

    it('creates every resource and answers a transaction-response', () => {
      expect(response.type).toBe('transaction-response');
      expect(response.entry).toHaveLength(4);
      for (const entry of response.entry!) {
        expect(entry.response).toMatchObject({ status: '201 Created', etag: 'W/"1"' });
        expect(entry.response!.location).toMatch(
          /^(Patient|ServiceRequest|Task|Consent)\/[\w-]+\/_history\/1$/,
        );
      }
    });

    it('rewrote the urn:uuid references to the new ids', async () => {
      const [patientId, srId, taskId, consentId] = response.entry!.map(idOf);
      const client = fhirKitClient(api.baseUrl);
      const task = (await client.read({ resourceType: 'Task', id: taskId })) as Task;
      expect(task.focus!.reference).toBe(`ServiceRequest/${srId}`);
      expect(task.for!.reference).toBe(`Patient/${patientId}`);
      const sr = (await client.read({ resourceType: 'ServiceRequest', id: srId })) as Resource &
        Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
      expect(sr.subject.reference).toBe(`Patient/${patientId}`);
      expect(sr.supportingInfo[0].reference).toBe(`Consent/${consentId}`);
    });

    it('reads each resource back with meta.versionId, meta.lastUpdated and an ETag', async () => {
      for (const entry of response.entry!) {
        const [type, id] = entry.response!.location!.split('/');
        const read = await http(api.baseUrl, 'GET', `/${type}/${id}`);
        expect(read.status).toBe(200);
        expect(read.headers.get('etag')).toBe('W/"1"');
        expect(read.body).toMatchObject({ resourceType: type, id, meta: { versionId: '1' } });
        expect(read.body.meta.lastUpdated).toBe(entry.response!.lastModified);
        const vread = await http(api.baseUrl, 'GET', `/${type}/${id}/_history/1`);
        expect(vread.status).toBe(200);
        expect(vread.body).toEqual(read.body);
      }
    });

    it('finds the Task by requester, status and _lastUpdated, with its focus included', async () => {
      const [, srId, taskId] = response.entry!.map(idOf);
      const found = await fhirKitClient(api.baseUrl).search({
        resourceType: 'Task',
        searchParams: {
          requester: PRACTITIONER_ROLE,
          status: 'requested',
          _lastUpdated: `gt${before}`,
          _include: 'Task:focus',
          identifier: `${PLACER}|task-ehr-flow`,
        },
      });
      expect(found.type).toBe('searchset');
      expect(found.total).toBe(1);
      const modes = found.entry!.map((e) => [
        e.resource!.resourceType,
        e.resource!.id,
        e.search!.mode,
      ]);
      expect(modes).toEqual([
        ['Task', taskId, 'match'],
        ['ServiceRequest', srId, 'include'],
      ]);
      expect(found.entry![0].fullUrl).toBe(`${api.baseUrl}/Task/${taskId}`);
      const none = await http(
        api.baseUrl,
        'GET',
        `/Task?requester=${PRACTITIONER_ROLE}&_lastUpdated=gt${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`,
      );
      expect(none.body.total).toBe(0);
    });

    it('includes generically by reference parameter, and reverse-includes', async () => {
      const [patientId, srId, taskId, consentId] = response.entry!.map(idOf);
      const sr = await http(
        api.baseUrl,
        'GET',
        `/ServiceRequest?_id=${srId}&_include=ServiceRequest:patient&_include=ServiceRequest:supporting-info&_revinclude=Task:focus`,
      );
      const found = sr.body.entry.map((e: { resource: Resource; search: { mode: string } }) => [
        `${e.resource.resourceType}/${e.resource.id}`,
        e.search.mode,
      ]);
      expect(found).toEqual([
        [`ServiceRequest/${srId}`, 'match'],
        [`Patient/${patientId}`, 'include'],
        [`Consent/${consentId}`, 'include'],
        [`Task/${taskId}`, 'include'],
      ]);
    });

    it('emits one fhir.changes.v1 event per resource, through the outbox', async () => {
      for (const entry of response.entry!) {
        const [type, id] = entry.response!.location!.split('/');
        const events = await waitFor(
          () => {
            const found = eventsFor(type, id);
            return found.length > 0 ? found : undefined;
          },
          { what: `the change event of ${type}/${id}` },
        );
        expect(events).toHaveLength(1);
        expect(events[0].type).toBe('org.carerelay.fhir.resource-changed.v1');
        expect(events[0].data).toMatchObject({
          resourceType: type,
          id,
          versionId: '1',
          action: 'create',
        });
        expect(events[0].data.resource.id).toBe(id);
      }
    });

    it('answers the same Bundle posted again with the existing resources (200), creating nothing', async () => {
      const countsBefore = await storeCounts(api);
      const again = await fhirKitClient(api.baseUrl).transaction({ body: bundle });
      expect(again.entry!.map((e) => e.response!.status)).toEqual([
        '200 OK',
        '200 OK',
        '200 OK',
        '200 OK',
      ]);
      expect(again.entry!.map(idOf)).toEqual(response.entry!.map(idOf));
      expect(await storeCounts(api)).toEqual(countsBefore);
    });
  });

  it('creates exactly one referral when the same Bundle is posted 20 times at once', async () => {
    const bundle = referralBundle('concurrent');
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => http(api.baseUrl, 'POST', '', bundle)),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    const statuses = answers.map((a) =>
      a.body.entry.map((e: { response: { status: string } }) => e.response.status).join(),
    );
    expect(
      statuses.filter((s) => s === '201 Created,201 Created,201 Created,201 Created'),
    ).toHaveLength(1);
    expect(new Set(answers.map((a) => a.body.entry.map(idOf).join())).size).toBe(1);
    for (const [type, identifier] of [
      ['Patient', `${MRN}|mrn-concurrent`],
      ['ServiceRequest', `${PLACER}|sr-concurrent`],
      ['Task', `${PLACER}|task-concurrent`],
      ['Consent', `${PLACER}|consent-concurrent`],
    ]) {
      const found = await http(
        api.baseUrl,
        'GET',
        `/${type}?identifier=${encodeURIComponent(identifier)}&_summary=count`,
      );
      expect([type, found.body.total]).toEqual([type, 1]);
    }
  });

  it('keeps an idle keep-alive connection open longer than clients do (a reused socket works after 6 s)', async () => {
    const agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      new Promise<{ status: number; reused: boolean; socket: Socket }>((resolve, reject) => {
        const request = httpGet(`${api.baseUrl}/metadata`, { agent }, (response) => {
          response.resume();
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              reused: request.reusedSocket,
              socket: request.socket as Socket,
            }),
          );
        });
        request.on('error', reject);
      });
    try {
      const first = await get();
      expect(first.status).toBe(200);
      // Longer than Node's default 5 s keep-alive timeout, which closed such sockets under clients.
      await new Promise((resolve) => setTimeout(resolve, 6_000));
      expect(first.socket.destroyed).toBe(false);
      const second = await get();
      expect(second).toMatchObject({ status: 200, reused: true });
    } finally {
      agent.destroy();
    }
  });

  it('transactions updating the same resources in opposite orders queue and never deadlock', async () => {
    const tag = Date.now().toString(36);
    const ids = ['a', 'b', 'c', 'd'].map((x) => `lock-order-${x}-${tag}`);
    const bundle = (order: string[], name: string) => ({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: order.map((id) => ({
        resource: { resourceType: 'Location', id, status: 'active', name },
        request: { method: 'PUT', url: `Location/${id}` },
      })),
    });
    expect((await http(api.baseUrl, 'POST', '', bundle(ids, 'first'))).status).toBe(200);
    const deadlocks = async () =>
      Number(
        (
          await api.db.query(
            'SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()',
          )
        )[0].deadlocks,
      );
    // Statistics reach pg_stat_database within a second of a backend's transaction.
    const settledDeadlocks = async () => {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      return deadlocks();
    };
    const before = await settledDeadlocks();
    const answers = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        http(api.baseUrl, 'POST', '', bundle(i % 2 ? ids : [...ids].reverse(), `round ${i}`)),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(16).fill(200));
    expect(await settledDeadlocks()).toBe(before);
  });

  it('conditional create by header: 201, then 200 with the existing one, 412 when several match', async () => {
    const patient = {
      resourceType: 'Patient',
      identifier: [{ system: MRN, value: 'cond-1' }],
      name: [{ family: 'Cond' }],
    };
    const first = await http(api.baseUrl, 'POST', '/Patient', patient, {
      'if-none-exist': `identifier=${MRN}|cond-1`,
    });
    expect(first.status).toBe(201);
    expect(first.headers.get('location')).toBe(
      `${api.baseUrl}/Patient/${first.body.id}/_history/1`,
    );
    const second = await http(api.baseUrl, 'POST', '/Patient', patient, {
      'if-none-exist': `identifier=${MRN}|cond-1`,
    });
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    await http(api.baseUrl, 'POST', '/Patient', {
      ...patient,
      identifier: [{ system: MRN, value: 'cond-2' }],
    });
    const several = await http(api.baseUrl, 'POST', '/Patient', patient, {
      'if-none-exist': 'family=Cond',
    });
    expect(several.status).toBe(412);
    expect(several.body.resourceType).toBe('OperationOutcome');
  });

  describe('updates of a referral Task', () => {
    let taskId: string;
    beforeAll(async () => {
      const created = await http(
        api.baseUrl,
        'POST',
        '',
        referralBundle('updates', { ownerOrg: 'cbo-a', requesterOrg: 'ehr-a' }),
      );
      expect(created.status).toBe(200);
      taskId = idOf(created.body.entry[2]);
    });
    const readTask = async () => (await http(api.baseUrl, 'GET', `/Task/${taskId}`)).body as Task;

    it('requires If-Match (428) and refuses a stale one (412)', async () => {
      const task = await readTask();
      const noIfMatch = await http(api.baseUrl, 'PUT', `/Task/${taskId}`, task);
      expect(noIfMatch.status).toBe(428);
      const stale = await http(api.baseUrl, 'PUT', `/Task/${taskId}`, task, {
        'if-match': 'W/"7"',
      });
      expect(stale.status).toBe(412);
      expect(stale.body.resourceType).toBe('OperationOutcome');
    });

    it('lets exactly one of two concurrent updates with the same If-Match succeed', async () => {
      const task = await readTask();
      const version = task.meta!.versionId;
      const [a, b] = await Promise.all([
        http(
          api.baseUrl,
          'PUT',
          `/Task/${taskId}`,
          { ...task, businessStatus: { text: 'a' } },
          { 'if-match': `W/"${version}"` },
        ),
        http(
          api.baseUrl,
          'PUT',
          `/Task/${taskId}`,
          { ...task, businessStatus: { text: 'b' } },
          { 'if-match': `W/"${version}"` },
        ),
      ]);
      expect([a.status, b.status].sort()).toEqual([200, 412]);
      const winner = a.status === 200 ? a : b;
      expect(winner.headers.get('etag')).toBe(`W/"${Number(version) + 1}"`);
      expect((await readTask()).meta!.versionId).toBe(String(Number(version) + 1));
    });

    it('refuses an illegal status transition (422) and a CBO changing another field (403): nothing stored, no event', async () => {
      const task = await readTask();
      const etag = `W/"${task.meta!.versionId}"`;
      const countsBefore = await storeCounts(api);
      const illegal = await http(
        api.baseUrl,
        'PUT',
        `/Task/${taskId}`,
        { ...task, status: 'completed' },
        { 'if-match': etag },
      );
      expect(illegal.status).toBe(422);
      expect(illegal.body.issue[0].expression).toEqual(['Task.status']);
      const cbo = { 'if-match': etag, 'x-dev-actor': 'cbo:cbo-a' };
      const forbiddenField = await http(
        api.baseUrl,
        'PUT',
        `/Task/${taskId}`,
        { ...task, priority: 'urgent' },
        cbo,
      );
      expect(forbiddenField.status).toBe(403);
      expect(forbiddenField.body.issue[0].expression).toEqual(['Task.priority']);
      const requesterMove = await http(
        api.baseUrl,
        'PUT',
        `/Task/${taskId}`,
        { ...task, status: 'entered-in-error' },
        cbo,
      );
      expect(requesterMove.status).toBe(403);
      const ownerMoveByEhr = await http(
        api.baseUrl,
        'PUT',
        `/Task/${taskId}`,
        { ...task, status: 'accepted' },
        { 'if-match': etag, 'x-dev-actor': 'ehr:ehr-a' },
      );
      expect(ownerMoveByEhr.status).toBe(403);
      const noReasonText = await http(
        api.baseUrl,
        'PUT',
        `/Task/${taskId}`,
        { ...task, status: 'rejected', statusReason: { coding: [{ code: 'x' }] } },
        cbo,
      );
      expect(noReasonText.status).toBe(422);
      expect(await storeCounts(api)).toEqual(countsBefore);
    });

    it('lets the owning CBO accept, then shows the new version in _history', async () => {
      const task = await readTask();
      const accepted = await http(
        api.baseUrl,
        'PUT',
        `/Task/${taskId}`,
        { ...task, status: 'accepted' },
        {
          'if-match': `W/"${task.meta!.versionId}"`,
          'x-dev-actor': 'cbo:cbo-a',
        },
      );
      expect(accepted.status).toBe(200);
      expect(accepted.body.status).toBe('accepted');
      const history = await http(api.baseUrl, 'GET', `/Task/${taskId}/_history`);
      expect(history.body).toMatchObject({ resourceType: 'Bundle', type: 'history' });
      expect(history.body.entry[0].resource.status).toBe('accepted');
      expect(
        history.body.entry.map((e: { response: { etag: string } }) => e.response.etag),
      ).toEqual(
        Array.from(
          { length: history.body.entry.length },
          (_, i) => `W/"${history.body.entry.length - i}"`,
        ),
      );
      const events = await waitFor(
        () => {
          const found = eventsFor('Task', taskId).filter((e) => e.data.action === 'update');
          return found.length >= 2 ? found : undefined;
        },
        { what: 'the update events' },
      );
      expect(events.at(-1)!.data.organizations).toEqual(expect.arrayContaining(['cbo-a', 'ehr-a']));
    });

    it('an update rewrites only the index rows that changed: the rest keep their row', async () => {
      const indexRows = async () =>
        (await api.db.query(
          `SELECT ctid::text AS row, param, code, value_reference, value_string
             FROM "${api.schema}".search_index WHERE resource_type = 'Task' AND id = $1`,
          [taskId],
        )) as { row: string; param: string; code: string | null; value_reference: string | null }[];
      const before = await indexRows();
      const task = await readTask();
      const next = task.status === 'requested' ? 'accepted' : 'in-progress';
      const updated = await http(
        api.baseUrl,
        'PUT',
        `/Task/${taskId}`,
        { ...task, status: next },
        { 'if-match': `W/"${task.meta!.versionId}"`, 'x-dev-actor': 'cbo:cbo-a' },
      );
      expect(updated.status).toBe(200);
      const after = await indexRows();

      // The same rows as an index built from scratch for the stored version.
      const key = (r: { param: string; code: string | null; value_reference: string | null }) =>
        `${r.param}|${r.code}|${r.value_reference}`;
      const fresh = extractSearchIndex(updated.body as Task);
      expect(after.map(key).sort()).toEqual(
        fresh
          .map((r) =>
            key({
              param: r.param,
              code: r.code ?? null,
              value_reference: r.value_reference ?? null,
            }),
          )
          .sort(),
      );
      const status = after.filter((r) => r.param === 'status').map((r) => r.code);
      expect(status).toEqual([next]);
      // The requester did not change: its row is the same physical row as before the update.
      const requesterRow = (rows: typeof before) => rows.find((r) => r.param === 'requester')?.row;
      expect(requesterRow(before)).toBeDefined();
      expect(requesterRow(after)).toBe(requesterRow(before));
      const rewritten = after.filter((r) => !before.some((b) => b.row === r.row));
      expect(rewritten.length).toBeGreaterThan(0);
      expect(rewritten.length).toBeLessThan(after.length / 2);

      const found = await http(api.baseUrl, 'GET', `/Task?_id=${taskId}&status=${next}`);
      expect(found.body.entry).toHaveLength(1);
      const old = await http(api.baseUrl, 'GET', `/Task?_id=${taskId}&status=${task.status}`);
      expect(old.body.entry ?? []).toHaveLength(0);
    });
  });

  describe('bad input: an OperationOutcome with the right 4xx, nothing stored, no event', () => {
    let countsBefore: Awaited<ReturnType<typeof storeCounts>>;
    beforeEach(async () => {
      countsBefore = await storeCounts(api);
    });
    afterEach(async () => {
      expect(await storeCounts(api)).toEqual(countsBefore);
    });

    it.each([
      ['malformed JSON', '/Patient', '{"resourceType": "Patient",', {}, 400],
      ['a JSON array', '/Patient', '[]', {}, 400],
      ['a body of another type', '/Patient', '{"resourceType":"Task"}', {}, 400],
      ['an unknown resource type', '/Unicorn', '{"resourceType":"Unicorn"}', {}, 404],
      ['a type the server does not serve', '/Medication', '{"resourceType":"Medication"}', {}, 404],
      [
        'a wrong content type',
        '/Patient',
        '{"resourceType":"Patient"}',
        { 'content-type': 'text/plain' },
        415,
      ],
      ['an empty body', '/Patient', '', {}, 400],
      ['a transaction that is not a Bundle', '', '{"resourceType":"Patient"}', {}, 400],
    ])('%s', async (_what, path, body, headers, status) => {
      const answer = await http(api.baseUrl, 'POST', path, body, headers as Record<string, string>);
      expect(answer.status).toBe(status);
      expect(answer.body.resourceType).toBe('OperationOutcome');
      expect(answer.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
    });

    it('a body over FHIR_MAX_BODY_BYTES: 413', async () => {
      const big = JSON.stringify({
        resourceType: 'Patient',
        name: [{ text: 'x'.repeat(5 * 1024 * 1024) }],
      });
      const answer = await http(api.baseUrl, 'POST', '/Patient', big);
      expect(answer.status).toBe(413);
      expect(answer.body.issue[0].code).toBe('too-long');
    });

    it('a resource that breaks the R4 definitions: 400 with the element', async () => {
      const answer = await http(api.baseUrl, 'POST', '/Patient', {
        resourceType: 'Patient',
        gender: 'robot',
        birthDate: 'yesterday',
      });
      expect(answer.status).toBe(400);
      const expressions = answer.body.issue.flatMap(
        (i: { expression?: string[] }) => i.expression ?? [],
      );
      expect(expressions).toEqual(expect.arrayContaining(['Patient.birthDate']));
    });

    it('a Task that breaks the referral rules: 422 with the element', async () => {
      const task = referralBundle('bad-task').entry![2].resource as Task;
      const { focus: _f, ...withoutFocus } = task;
      const answer = await http(api.baseUrl, 'POST', '/Task', {
        ...withoutFocus,
        for: { reference: 'Patient/p1' },
      });
      expect(answer.status).toBe(422);
      expect(answer.body.issue.map((i: { expression: string[] }) => i.expression[0])).toContain(
        'Task.focus',
      );
    });

    it('a transaction whose 4th entry is invalid: rolled back as a whole, the entry named', async () => {
      const bundle = referralBundle('rolled-back');
      (bundle.entry![3].resource as unknown as Record<string, unknown>).status = 'sort-of';
      const answer = await http(api.baseUrl, 'POST', '', bundle);
      expect(answer.status).toBe(400);
      expect(answer.body.issue[0].expression[0]).toMatch(/^Bundle\.entry\[3\]\.resource\.status/);
      const rule = referralBundle('rolled-back-2');
      delete (rule.entry![1].resource as unknown as Record<string, unknown>).code;
      const ruleAnswer = await http(api.baseUrl, 'POST', '', rule);
      expect(ruleAnswer.status).toBe(422);
      expect(ruleAnswer.body.issue[0].expression).toEqual(['Bundle.entry[1].resource.code']);
    });

    it('a transaction with a reference to a fullUrl that is not in it: 400', async () => {
      const bundle = referralBundle('dangling');
      (bundle.entry![2].resource as Task).focus = {
        reference: 'urn:uuid:6a1c5c1e-0000-4000-8000-000000000000',
      };
      const answer = await http(api.baseUrl, 'POST', '', bundle);
      expect(answer.status).toBe(400);
      expect(answer.body.issue[0].expression[0]).toBe('Bundle.entry[2].resource.focus.reference');
    });

    it('bad search parameters: 400; unknown ids: 404', async () => {
      expect((await http(api.baseUrl, 'GET', '/Task?colour=blue')).status).toBe(400);
      expect((await http(api.baseUrl, 'GET', '/Task?_lastUpdated=gtyesterday')).status).toBe(400);
      expect((await http(api.baseUrl, 'GET', '/Task?_sort=focus')).status).toBe(400);
      expect((await http(api.baseUrl, 'GET', '/Task/nope')).status).toBe(404);
      expect((await http(api.baseUrl, 'GET', '/Task/nope/_history/1')).status).toBe(404);
      expect((await http(api.baseUrl, 'GET', '/Task/bad$id')).status).toBe(400);
      expect((await http(api.baseUrl, 'GET', '/nothing/here/at/all/really')).status).toBe(404);
    });
  });

  describe('search, history, paging, delete', () => {
    const ids: string[] = [];
    beforeAll(async () => {
      for (let i = 0; i < 5; i++) {
        const answer = await http(api.baseUrl, 'POST', '/Organization', {
          resourceType: 'Organization',
          name: `Paging Org ${i}`,
          identifier: [{ system: 'urn:test:paging', value: String(i) }],
        });
        ids.push(answer.body.id);
      }
    });

    it('_id with several ids, _count with next links, _summary=count, _sort', async () => {
      const byId = await http(api.baseUrl, 'GET', `/Organization?_id=${ids[0]},${ids[3]}`);
      expect(
        byId.body.entry.map((e: { resource: { id: string } }) => e.resource.id).sort(),
      ).toEqual([ids[0], ids[3]].sort());
      const page1 = await http(
        api.baseUrl,
        'GET',
        '/Organization?identifier=urn:test:paging|&_count=2',
      );
      expect(page1.body.total).toBe(5);
      expect(page1.body.entry).toHaveLength(2);
      const seen = [...page1.body.entry.map((e: { resource: { id: string } }) => e.resource.id)];
      let next = page1.body.link.find((l: { relation: string }) => l.relation === 'next')?.url;
      while (next) {
        const page = await http(next, 'GET', '');
        seen.push(...page.body.entry.map((e: { resource: { id: string } }) => e.resource.id));
        next = page.body.link.find((l: { relation: string }) => l.relation === 'next')?.url;
      }
      expect(seen).toEqual(ids);
      const count = await http(
        api.baseUrl,
        'GET',
        '/Organization?identifier=urn:test:paging|&_summary=count',
      );
      expect(count.body).toMatchObject({ total: 5 });
      expect(count.body.entry).toBeUndefined();
      const desc = await http(
        api.baseUrl,
        'GET',
        '/Organization?identifier=urn:test:paging|&_sort=-_lastUpdated',
      );
      expect(desc.body.entry.map((e: { resource: { id: string } }) => e.resource.id)).toEqual(
        [...ids].reverse(),
      );
      const capped = await http(api.baseUrl, 'GET', '/Organization?_count=5000');
      expect(capped.status).toBe(200);
      const name = await http(
        api.baseUrl,
        'POST',
        '/Organization/_search',
        'name=paging%20org%203',
        { 'content-type': 'application/x-www-form-urlencoded' },
      );
      expect(name.body.entry.map((e: { resource: { id: string } }) => e.resource.id)).toEqual([
        ids[3],
      ]);
    });

    it('type-level _history, and delete: 410 on read, still in history', async () => {
      const removed = await http(api.baseUrl, 'DELETE', `/Organization/${ids[4]}`);
      expect(removed.status).toBe(200);
      expect((await http(api.baseUrl, 'GET', `/Organization/${ids[4]}`)).status).toBe(410);
      expect((await http(api.baseUrl, 'GET', `/Organization/${ids[4]}/_history/1`)).status).toBe(
        200,
      );
      const search = await http(
        api.baseUrl,
        'GET',
        '/Organization?identifier=urn:test:paging|&_summary=count',
      );
      expect(search.body.total).toBe(4);
      const history = await http(api.baseUrl, 'GET', '/Organization/_history?_count=100');
      expect(history.body.type).toBe('history');
      const mine = history.body.entry.filter((e: { fullUrl: string }) =>
        e.fullUrl.endsWith(ids[4]),
      );
      expect(mine.map((e: { request: { method: string } }) => e.request.method)).toEqual([
        'DELETE',
        'POST',
      ]);
      expect(
        await waitFor(
          () => eventsFor('Organization', ids[4]).find((e) => e.data.action === 'delete'),
          { what: 'the delete event' },
        ),
      ).toBeTruthy();
    });

    it('a PUT that changes nothing makes no version and no event; a real change does', async () => {
      const id = ids[1];
      const current = (await http(api.baseUrl, 'GET', `/Organization/${id}`)).body;
      const before = eventsFor('Organization', id).length;
      // The same content, keys in another order and without meta: nothing new.
      const { meta: _meta, ...fields } = current;
      const same = Object.fromEntries(Object.entries(fields).reverse());
      const unchanged = await http(api.baseUrl, 'PUT', `/Organization/${id}`, same);
      expect(unchanged.status).toBe(200);
      expect(unchanged.body.meta.versionId).toBe(current.meta.versionId);
      expect(unchanged.headers.get('etag')).toBe(`W/"${current.meta.versionId}"`);
      const changed = await http(api.baseUrl, 'PUT', `/Organization/${id}`, {
        ...same,
        name: 'Paging Org 1 renamed',
      });
      expect(changed.body.meta.versionId).toBe(String(Number(current.meta.versionId) + 1));
      const history = await http(api.baseUrl, 'GET', `/Organization/${id}/_history`);
      expect(history.body.entry).toHaveLength(2);
      await waitFor(() => eventsFor('Organization', id).length >= before + 1, {
        what: 'the rename event',
      });
      // Give a (wrong) event of the no-op time to arrive after the rename's.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(
        eventsFor('Organization', id)
          .map((e) => e.data.versionId)
          .slice(before),
      ).toEqual([changed.body.meta.versionId]);
    });
  });

  it('batch Bundles process each entry on its own', async () => {
    const answer = await http(api.baseUrl, 'POST', '', {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        {
          resource: { resourceType: 'Patient', name: [{ family: 'Batch' }] },
          request: { method: 'POST', url: 'Patient' },
        },
        {
          resource: { resourceType: 'Patient', gender: 'robot' },
          request: { method: 'POST', url: 'Patient' },
        },
        { request: { method: 'GET', url: 'Patient?family=Batch' } },
      ],
    });
    expect(answer.status).toBe(200);
    expect(answer.body.type).toBe('batch-response');
    expect(
      answer.body.entry.map((e: { response: { status: string } }) => e.response.status),
    ).toEqual(['201 Created', '400 Bad Request', '200 OK']);
    expect(answer.body.entry[1].response.outcome.issue[0].expression[0]).toMatch(
      /^Bundle\.entry\[1\]\.resource/,
    );
    expect(answer.body.entry[2].resource.total).toBe(1);
  });

  it('hides what an organization may not see: 404 on read, vread, history; absent from search and _include', async () => {
    const sent = await http(
      api.baseUrl,
      'POST',
      '',
      referralBundle('isolation', { requesterOrg: 'ehr-1', ownerOrg: 'cbo-1' }),
      { 'x-dev-actor': 'ehr:ehr-1' },
    );
    expect(sent.status).toBe(200);
    const [, srId, taskId] = sent.body.entry.map(idOf);
    const as = (actor: string) => ({ 'x-dev-actor': actor });
    for (const actor of ['ehr:ehr-1', 'cbo:cbo-1']) {
      expect([
        actor,
        (await http(api.baseUrl, 'GET', `/Task/${taskId}`, undefined, as(actor))).status,
      ]).toEqual([actor, 200]);
    }
    for (const actor of ['ehr:ehr-2', 'cbo:cbo-2']) {
      const h = as(actor);
      expect((await http(api.baseUrl, 'GET', `/Task/${taskId}`, undefined, h)).status).toBe(404);
      expect(
        (await http(api.baseUrl, 'GET', `/Task/${taskId}/_history/1`, undefined, h)).status,
      ).toBe(404);
      expect(
        (await http(api.baseUrl, 'GET', `/Task/${taskId}/_history`, undefined, h)).status,
      ).toBe(404);
      expect((await http(api.baseUrl, 'GET', `/ServiceRequest/${srId}`, undefined, h)).status).toBe(
        404,
      );
      const search = await http(
        api.baseUrl,
        'GET',
        `/Task?_id=${taskId}&_include=Task:focus`,
        undefined,
        h,
      );
      expect(search.body.total).toBe(0);
      const history = await http(api.baseUrl, 'GET', '/Task/_history', undefined, h);
      expect(
        (history.body.entry ?? []).some((e: { fullUrl: string }) => e.fullUrl.endsWith(taskId)),
      ).toBe(false);
    }
  });
});
