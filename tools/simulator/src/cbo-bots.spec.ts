import { FhirRequestError, type FhirApiClient, type Resource } from '@carerelay/fhir-client';
import { CboBots, DEFAULT_BOT_OPTIONS } from './cbo-bots';

/** A CBO's Tasks in memory, changed the way the FHIR client's If-Match update does. */
function cboClient(tasks: Map<string, Resource>) {
  const updates: string[] = [];
  const fhir = {
    updateWithIfMatch: async (
      _type: string,
      id: string,
      change: (current: Resource) => Resource | undefined,
    ) => {
      const next = change(structuredClone(tasks.get(id)!));
      if (next) {
        tasks.set(id, next);
        updates.push(`${id}:${next.status}`);
      }
      return next ?? tasks.get(id)!;
    },
  } as unknown as FhirApiClient;
  return { fhir, updates };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('CboBots.offer', () => {
  it('answers a Task routed to its organization once, and no other organization’s', async () => {
    const tasks = new Map<string, Resource>([
      ['t1', { resourceType: 'Task', id: 't1', status: 'requested' }],
    ]);
    const { fhir, updates } = cboClient(tasks);
    const bots = new CboBots([{ organizationId: 'org-a', fhir }], {
      ...DEFAULT_BOT_OPTIONS,
      rejectShare: 1,
      acceptDelayMs: [0, 1],
    });
    expect(bots.offer('org-b', 't1')).toBe(false);
    expect(bots.offer('org-a', 't1')).toBe(true);
    expect(bots.offer('org-a', 't1')).toBe(false);
    for (let i = 0; i < 100 && updates.length === 0; i++) await sleep(5);
    bots.stop();
    expect(updates).toEqual(['t1:rejected']);
    expect(bots.stats).toMatchObject({ seen: 1, rejected: 1 });
  });
});

/**
 * A CBO's FHIR server in memory that versions Tasks and checks If-Match as the FHIR API does, and
 * a client over it that behaves as FhirApiClient does (a `known` version first, a read after a 412).
 */
function versionedServer(tasks: Map<string, Resource>) {
  const requests: string[] = [];
  const stale = (task: Resource, ifMatch: string) => ifMatch !== `W/"${task.meta!.versionId}"`;
  const put = (id: string, body: Resource, ifMatch: string): Resource => {
    const stored = tasks.get(id)!;
    if (stale(stored, ifMatch)) throw new FhirRequestError(412, undefined, 'version conflict');
    const next = { ...body, meta: { versionId: String(Number(stored.meta!.versionId) + 1) } };
    tasks.set(id, next);
    return structuredClone(next);
  };
  const fhir = {
    read: async (type: string, id: string) => {
      requests.push(`read ${type}`);
      if (type !== 'Task') return { resourceType: type, id };
      return structuredClone(tasks.get(id)!);
    },
    create: async (resource: Resource) => {
      requests.push(`create ${resource.resourceType}`);
      return { ...resource, id: 'p1' };
    },
    updateWithIfMatch: async (
      _type: string,
      id: string,
      change: (current: Resource) => Resource | undefined,
      options: { known?: Resource } = {},
    ) => {
      let known = options.known;
      for (;;) {
        const current = known ?? (await fhir.read('Task', id));
        const unverified = known !== undefined;
        known = undefined;
        const next = change(structuredClone(current));
        if (!next) {
          if (unverified) continue;
          return current;
        }
        requests.push(`update Task ${next.status}`);
        try {
          return put(id, next, `W/"${current.meta!.versionId}"`);
        } catch (error) {
          if (!unverified) throw error;
        }
      }
    },
    transaction: async (bundle: Resource) => {
      const entries = bundle.entry as Array<{ resource: Resource; request: { ifMatch?: string } }>;
      requests.push(`transaction ${entries.map((e) => e.resource.resourceType).join('+')}`);
      const task = entries[1].resource;
      put(task.id!, task, entries[1].request.ifMatch!);
      return { resourceType: 'Bundle', type: 'transaction-response' };
    },
  } as unknown as FhirApiClient;
  return { fhir, requests };
}

describe('CboBots: a Task worked to completion', () => {
  const fast = {
    ...DEFAULT_BOT_OPTIONS,
    rejectShare: 0,
    acceptDelayMs: [0, 1] as [number, number],
    startDelayMs: [0, 1] as [number, number],
    completeDelayMs: [0, 1] as [number, number],
  };
  const newTask = (): Resource => ({
    resourceType: 'Task',
    id: 't1',
    status: 'requested',
    meta: { versionId: '1' },
    focus: { reference: 'ServiceRequest/sr1' },
    for: { reference: 'Patient/p1' },
  });
  const until = async (done: () => boolean) => {
    for (let i = 0; i < 200 && !done(); i++) await sleep(5);
  };

  it('reads the Task once, updates from the versions it wrote, and completes in one transaction', async () => {
    const tasks = new Map([['t1', newTask()]]);
    const { fhir, requests } = versionedServer(tasks);
    const bots = new CboBots([{ organizationId: 'org-a', fhir }], fast);
    bots.offer('org-a', 't1');
    await until(() => bots.stats.completed === 1 || bots.stats.errors > 0);
    bots.stop();
    expect(bots.stats).toMatchObject({ accepted: 1, started: 1, completed: 1, errors: 0 });
    // Without the demo's planted disparities nothing looks at the Patient.
    expect(requests).toEqual([
      'read Task',
      'update Task accepted',
      'update Task in-progress',
      'read ServiceRequest',
      'transaction Procedure+Task',
    ]);
    const task = tasks.get('t1')!;
    expect(task.status).toBe('completed');
    expect(task.meta!.versionId).toBe('4');
    expect(task.output[0].valueReference.reference).toMatch(/^urn:uuid:/);
  });

  it('falls back to read, create and update when another writer moved the Task meanwhile', async () => {
    const tasks = new Map([['t1', newTask()]]);
    const { fhir, requests } = versionedServer(tasks);
    const bots = new CboBots([{ organizationId: 'org-a', fhir }], {
      ...fast,
      completeDelayMs: [100, 101],
    });
    bots.offer('org-a', 't1');
    await until(() => bots.stats.started === 1);
    // The platform adds a note to the Task before the CBO completes it.
    const moved = tasks.get('t1')!;
    tasks.set('t1', { ...moved, note: [{ text: 'x' }], meta: { versionId: '4' } });
    await until(() => bots.stats.completed === 1 || bots.stats.errors > 0);
    bots.stop();
    expect(bots.stats).toMatchObject({ completed: 1, errors: 0 });
    expect(requests.slice(-4)).toEqual([
      'transaction Procedure+Task',
      'read Task',
      'create Procedure',
      'update Task completed',
    ]);
    const task = tasks.get('t1')!;
    expect(task).toMatchObject({ status: 'completed', note: [{ text: 'x' }] });
    expect(task.output[0].valueReference.reference).toBe('Procedure/p1');
  });
});
