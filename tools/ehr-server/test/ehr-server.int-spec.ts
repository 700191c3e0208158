import { newFhirKitClient } from '@carerelay/fhir-client';
import { startEhrServer, type RunningEhrServer } from '../src/ehr-server';

type Any = any; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('stand-in EHR server (Medplum FhirRouter + MemoryRepository)', () => {
  let ehr: RunningEhrServer;
  let client: Any;

  beforeAll(async () => {
    ehr = await startEhrServer({ port: 0 });
    client = newFhirKitClient({ baseUrl: ehr.baseUrl });
  });
  afterAll(() => ehr.close());

  it('creates, reads, conditionally creates, updates with If-Match and searches by _lastUpdated', async () => {
    const patient = await client.create({
      resourceType: 'Patient',
      body: { resourceType: 'Patient', identifier: [{ system: 'urn:mrn', value: '1' }] },
    });
    expect(patient.id).toBeDefined();
    expect(patient.meta.versionId).toBeDefined();
    const again = await client.create({
      resourceType: 'Patient',
      body: { resourceType: 'Patient', identifier: [{ system: 'urn:mrn', value: '1' }] },
      options: { headers: { 'If-None-Exist': 'identifier=urn:mrn|1' } },
    });
    expect(again.id).toBe(patient.id);

    const sr = await client.create({
      resourceType: 'ServiceRequest',
      body: {
        resourceType: 'ServiceRequest',
        status: 'active',
        intent: 'order',
        subject: { reference: `Patient/${patient.id}` },
      },
    });
    const task = await client.create({
      resourceType: 'Task',
      body: {
        resourceType: 'Task',
        status: 'requested',
        intent: 'order',
        focus: { reference: `ServiceRequest/${sr.id}` },
        for: { reference: `Patient/${patient.id}` },
        owner: { reference: 'Organization/cp' },
      },
    });
    const before = new Date(Date.parse(task.meta.lastUpdated) - 1000).toISOString();
    const found = await client.search({
      resourceType: 'Task',
      searchParams: {
        owner: 'Organization/cp',
        status: 'requested',
        _lastUpdated: `gt${before}`,
        _include: ['Task:focus', 'Task:patient'],
        _sort: '_lastUpdated',
      },
    });
    // MemoryRepository answers the match only (no _include): the connector reads the rest.
    expect(found.entry.map((e: Any) => e.resource.id)).toEqual([task.id]);
    const none = await client.search({
      resourceType: 'Task',
      searchParams: { owner: 'Organization/cp', _lastUpdated: `gt${task.meta.lastUpdated}` },
    });
    expect(none.entry ?? []).toHaveLength(0);

    const updated = await client.update({
      resourceType: 'Task',
      id: task.id,
      body: { ...task, status: 'accepted' },
      options: { headers: { 'If-Match': `W/"${task.meta.versionId}"` } },
    });
    expect(updated.status).toBe('accepted');
    await expect(
      client.update({
        resourceType: 'Task',
        id: task.id,
        body: { ...task, status: 'rejected' },
        options: { headers: { 'If-Match': `W/"${task.meta.versionId}"` } },
      }),
    ).rejects.toMatchObject({ response: { status: 412 } });
  });
});

describe('stand-in EHR server: onWrite and transactions', () => {
  it('reports each stored create and update (not reads, not failed writes)', async () => {
    const written: Array<[string, string | undefined]> = [];
    const ehr = await startEhrServer({
      port: 0,
      onWrite: (r) => written.push([r.resourceType, r.meta?.versionId]),
    });
    try {
      const client: Any = newFhirKitClient({ baseUrl: ehr.baseUrl });
      const task = await client.create({
        resourceType: 'Task',
        body: { resourceType: 'Task', status: 'requested', intent: 'order' },
      });
      const updated = await client.update({
        resourceType: 'Task',
        id: task.id,
        body: { ...task, status: 'accepted' },
        options: { headers: { 'If-Match': `W/"${task.meta.versionId}"` } },
      });
      await client.read({ resourceType: 'Task', id: task.id });
      await expect(
        client.update({
          resourceType: 'Task',
          id: task.id,
          body: { ...task, status: 'completed' },
          options: { headers: { 'If-Match': `W/"${task.meta.versionId}"` } },
        }),
      ).rejects.toMatchObject({ response: { status: 412 } });
      expect(written).toEqual([
        ['Task', task.meta.versionId],
        ['Task', updated.meta.versionId],
      ]);
    } finally {
      await ehr.close();
    }
  });

  it('refuses writes with the given 4xx while told to, and reads still answer', async () => {
    const ehr = await startEhrServer({ port: 0 });
    const client: Any = newFhirKitClient({ baseUrl: ehr.baseUrl });
    const task = await client.create({
      resourceType: 'Task',
      body: { resourceType: 'Task', status: 'requested', intent: 'order' },
    });
    ehr.refuseWrites(422);
    try {
      await expect(
        client.update({
          resourceType: 'Task',
          id: task.id,
          body: { ...task, status: 'accepted' },
        }),
      ).rejects.toMatchObject({ response: { status: 422 } });
      expect((await client.read({ resourceType: 'Task', id: task.id })).status).toBe('requested');
      expect(() => ehr.refuseWrites(503)).toThrow(/4xx/);
    } finally {
      ehr.refuseWrites();
    }
    const accepted = await client.update({
      resourceType: 'Task',
      id: task.id,
      body: { ...task, status: 'accepted' },
    });
    expect(accepted.status).toBe('accepted');
    await ehr.close();
  });

  it('runs a hook before each write: an edit landing between a read and an If-Match update makes it a 412', async () => {
    const ehr = await startEhrServer({ port: 0 });
    try {
      const client: Any = newFhirKitClient({ baseUrl: ehr.baseUrl });
      const task = await client.create({
        resourceType: 'Task',
        body: { resourceType: 'Task', status: 'requested', intent: 'order' },
      });
      const seen: Array<{ method: string; path: string; ifMatch?: string }> = [];
      ehr.beforeWrite(async (write) => {
        seen.push({ method: write.method, path: write.path, ifMatch: write.ifMatch });
        ehr.beforeWrite();
        const current = await ehr.repo.readResource('Task', task.id);
        await ehr.repo.updateResource({ ...current, note: [{ text: 'clinician' }] });
      });
      await expect(
        client.update({
          resourceType: 'Task',
          id: task.id,
          body: { ...task, status: 'accepted' },
          options: { headers: { 'If-Match': `W/"${task.meta.versionId}"` } },
        }),
      ).rejects.toMatchObject({ response: { status: 412 } });
      expect(seen).toEqual([
        { method: 'PUT', path: `Task/${task.id}`, ifMatch: `W/"${task.meta.versionId}"` },
      ]);
      const now = await client.read({ resourceType: 'Task', id: task.id });
      expect(now).toMatchObject({ status: 'requested', note: [{ text: 'clinician' }] });
    } finally {
      await ehr.close();
    }
  });

  it('searches ServiceRequests by several statuses and _lastUpdated (the pull withdrawal search)', async () => {
    const ehr = await startEhrServer({ port: 0 });
    try {
      const client: Any = newFhirKitClient({ baseUrl: ehr.baseUrl });
      const make = (status: string) =>
        client.create({
          resourceType: 'ServiceRequest',
          body: { resourceType: 'ServiceRequest', status, intent: 'order', subject: {} },
        });
      const active = await make('active');
      const revoked = await make('revoked');
      const wrong = await make('entered-in-error');
      const since = new Date(Date.parse(active.meta.lastUpdated) - 1000).toISOString();
      const found = await client.search({
        resourceType: 'ServiceRequest',
        searchParams: {
          status: 'revoked,entered-in-error',
          _lastUpdated: `gt${since}`,
          _sort: '_lastUpdated',
        },
      });
      expect(found.entry.map((e: Any) => e.resource.id).sort()).toEqual(
        [revoked.id, wrong.id].sort(),
      );
    } finally {
      await ehr.close();
    }
  });

  it('resolves urn:uuid references of a transaction only when they are UUIDs (as FHIR asks)', async () => {
    const ehr = await startEhrServer({ port: 0 });
    try {
      const client: Any = newFhirKitClient({ baseUrl: ehr.baseUrl });
      const post = async (patientUrl: string) => {
        const bundle = await client.transaction({
          body: {
            resourceType: 'Bundle',
            type: 'transaction',
            entry: [
              {
                fullUrl: patientUrl,
                resource: { resourceType: 'Patient' },
                request: { method: 'POST', url: 'Patient' },
              },
              {
                fullUrl: `urn:uuid:${crypto.randomUUID()}`,
                resource: {
                  resourceType: 'ServiceRequest',
                  status: 'active',
                  intent: 'order',
                  subject: { reference: patientUrl },
                },
                request: { method: 'POST', url: 'ServiceRequest' },
              },
            ],
          },
        });
        const location = bundle.entry[1].response.location as string;
        const id = location.match(/ServiceRequest\/([^/]+)/)![1];
        return (await client.read({ resourceType: 'ServiceRequest', id })).subject.reference;
      };
      expect(await post(`urn:uuid:${crypto.randomUUID()}`)).toMatch(/^Patient\/[0-9a-f-]{36}$/);
      // Left as it is: a pulled Task naming it cannot be brought into CareRelay (pull refusals).
      expect(await post('urn:uuid:patient')).toBe('urn:uuid:patient');
    } finally {
      await ehr.close();
    }
  });
});
