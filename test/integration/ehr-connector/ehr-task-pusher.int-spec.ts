import { FhirApiClient, type Resource } from '@carerelay/fhir-client';
import { startEhrServer, type RunningEhrServer } from '../../../tools/ehr-server/src/ehr-server';
import { EhrClients } from '../../../apps/ehr-connector/src/fhir/fhir-clients';
import type { EhrEndpoint } from '../../../apps/ehr-connector/src/registry/ehr-endpoint.registry';
import { EhrTaskPusher } from '../../../apps/ehr-connector/src/push/ehr-task-pusher';

/**
 * The pusher against two real FHIR servers over HTTP: the stand-in EHR, and another stand-in in
 * CareRelay's place (it only serves the Procedure a completion names).
 */
describe('EhrTaskPusher (real FHIR servers over HTTP)', () => {
  let ehrServer: RunningEhrServer;
  let carerelayServer: RunningEhrServer;
  let ehr: FhirApiClient;
  let carerelay: FhirApiClient;
  let endpoint: EhrEndpoint;

  beforeAll(async () => {
    ehrServer = await startEhrServer({ port: 0 });
    carerelayServer = await startEhrServer({ port: 0 });
    ehr = new FhirApiClient(ehrServer.baseUrl);
    carerelay = new FhirApiClient(carerelayServer.baseUrl);
    endpoint = {
      id: 'pusher-ehr',
      organizationId: 'hosp-pusher',
      baseUrl: ehrServer.baseUrl,
      auth: 'none',
      hasCredentials: false,
      modes: ['push'],
      platformOwnerReference: 'Organization/carerelay',
      pollIntervalSeconds: 30,
      enabled: true,
    };
  });
  afterAll(async () => {
    await ehrServer?.close();
    await carerelayServer?.close();
  });

  const newPusher = () =>
    new EhrTaskPusher(
      new EhrClients({ privateJwkOf: () => Promise.reject(new Error('no key: auth none')) }),
      carerelay,
    );

  const placeEhrTask = async (): Promise<Resource> => {
    const patient = await ehr.create<Resource>({
      resourceType: 'Patient',
      name: [{ family: 'Pusher' }],
    });
    const serviceRequest = await ehr.create<Resource>({
      resourceType: 'ServiceRequest',
      status: 'active',
      intent: 'order',
      subject: { reference: `Patient/${patient.id}` },
    });
    return ehr.create<Resource>({
      resourceType: 'Task',
      status: 'requested',
      intent: 'order',
      focus: { reference: `ServiceRequest/${serviceRequest.id}` },
      for: { reference: `Patient/${patient.id}` },
      note: [{ text: 'the clinician’s own note' }],
    });
  };

  const carerelayTask = (status: string, extra: Record<string, unknown> = {}): Resource => ({
    resourceType: 'Task',
    id: 'cr-task',
    status,
    intent: 'order',
    businessStatus: { text: status },
    meta: { lastUpdated: new Date().toISOString() } as Resource['meta'],
    ...extra,
  });

  /** The EHR server's requests for one Task since `from`, as "METHOD": count. */
  const requestsFor = (ehrTaskId: string, from: number): Record<string, number> => {
    const counts: Record<string, number> = {};
    for (const r of ehrServer.requests.slice(from))
      if (r.path.endsWith(`/Task/${ehrTaskId}`)) counts[r.method] = (counts[r.method] ?? 0) + 1;
    return counts;
  };

  it('writes later versions onto the Task its last write returned: one read for three writes', async () => {
    const ehrTask = await placeEhrTask();
    const pusher = newPusher();
    const from = ehrServer.requests.length;

    for (const [version, status] of [
      [2, 'accepted'],
      [3, 'in-progress'],
      [4, 'on-hold'],
    ] as const) {
      const result = await pusher.push(endpoint, ehrTask.id!, carerelayTask(status), version);
      expect(result).toMatchObject({ kind: 'updated', echo: expect.any(Object) });
    }

    expect(requestsFor(ehrTask.id!, from)).toEqual({ GET: 1, PUT: 3 });
    const onEhr = await ehr.read('Task', ehrTask.id!);
    expect(onEhr.status).toBe('on-hold');
    expect(onEhr.note).toEqual([{ text: 'the clinician’s own note' }]);
  });

  it('a Task changed on the EHR since the last write is read again and merged: the clinician keeps the change', async () => {
    const ehrTask = await placeEhrTask();
    const pusher = newPusher();
    await pusher.push(endpoint, ehrTask.id!, carerelayTask('accepted'), 2);
    await ehr.updateWithIfMatch('Task', ehrTask.id!, (t) => ({
      ...t,
      note: [...(t.note as unknown[]), { text: 'transport arranged' }],
    }));
    const from = ehrServer.requests.length;

    const result = await pusher.push(endpoint, ehrTask.id!, carerelayTask('in-progress'), 3);

    expect(result.kind).toBe('updated');
    // The remembered copy's If-Match refused (412), then read and written again.
    expect(requestsFor(ehrTask.id!, from)).toEqual({ PUT: 2, GET: 1 });
    const onEhr = await ehr.read('Task', ehrTask.id!);
    expect(onEhr.status).toBe('in-progress');
    expect(onEhr.note).toEqual([
      { text: 'the clinician’s own note' },
      { text: 'transport arranged' },
    ]);
  });

  it('a Task the clinician cancelled since the last write stays cancelled', async () => {
    const ehrTask = await placeEhrTask();
    const pusher = newPusher();
    await pusher.push(endpoint, ehrTask.id!, carerelayTask('accepted'), 2);
    const cancelled = await ehr.updateWithIfMatch('Task', ehrTask.id!, (t) => ({
      ...t,
      status: 'cancelled',
    }));

    const result = await pusher.push(endpoint, ehrTask.id!, carerelayTask('in-progress'), 3);

    expect(result).toEqual({
      kind: 'regression',
      ehrStatus: 'cancelled',
      carerelayStatus: 'in-progress',
    });
    expect((await ehr.read('Task', ehrTask.id!)).meta?.versionId).toBe(cancelled.meta?.versionId);
  });

  it('decides a completion with a Procedure on a fresh read, and copies the Procedure with that read', async () => {
    const ehrTask = await placeEhrTask();
    const pusher = newPusher();
    await pusher.push(endpoint, ehrTask.id!, carerelayTask('in-progress'), 2);
    const procedure = await carerelay.create<Resource>({
      resourceType: 'Procedure',
      status: 'completed',
      subject: { reference: 'Patient/carerelay-patient' },
    });
    const from = ehrServer.requests.length;

    const result = await pusher.push(
      endpoint,
      ehrTask.id!,
      carerelayTask('completed', {
        output: [
          {
            type: { text: 'resulting-activity' },
            valueReference: { reference: `Procedure/${procedure.id}` },
          },
        ],
      }),
      3,
    );

    expect(result.kind).toBe('updated');
    expect(requestsFor(ehrTask.id!, from)).toEqual({ GET: 1, PUT: 1 });
    const onEhr = await ehr.read('Task', ehrTask.id!);
    const copied = await ehr.read(
      'Procedure',
      (
        onEhr.output as Array<{ valueReference: { reference: string } }>
      )[0].valueReference.reference.split('/')[1],
    );
    expect(copied).toMatchObject({
      basedOn: [{ reference: ehrTask.focus.reference }],
      subject: ehrTask.for,
    });
  });
});
