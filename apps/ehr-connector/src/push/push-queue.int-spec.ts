import { openTestDataSource } from '@carerelay/testing';
import { EHR_CONNECTOR_MIGRATIONS } from '../migrations';
import { PushQueue, type PushItem } from './push-queue';

// The push queue against the real PostgreSQL: a whole batch of the consumer queued at once.
let db: Awaited<ReturnType<typeof openTestDataSource>>;
let queue: PushQueue;

beforeAll(async () => {
  db = await openTestDataSource('push_queue', {
    entities: [],
    migrations: EHR_CONNECTOR_MIGRATIONS,
  });
  queue = new PushQueue(db.dataSource, db.schema);
  for (const id of ['ehr-a', 'ehr-b'])
    await db.dataSource.query(
      `INSERT INTO "${db.schema}".ehr_endpoints (id, organization_id, base_url, auth, modes, platform_owner_reference)
       VALUES ($1, 'hospital', $2, 'none', '{push}', 'Organization/platform')`,
      [id, `http://${id}.test/fhir`],
    );
});

afterAll(async () => {
  await db?.drop();
});

const item = (taskId: string, version: number, endpointId = 'ehr-a'): PushItem => ({
  taskId,
  version,
  task: {
    resourceType: 'Task',
    id: taskId,
    status: 'in-progress',
    meta: { versionId: String(version) },
  },
  changedAt: '2026-12-03T10:00:00.000Z',
  endpointId,
  ehrTaskId: `ehr-${taskId}`,
});

const versionsOf = async (taskId: string) => (await queue.ofTask(taskId)).map((d) => d.version);

describe('PushQueue.enqueue (real PostgreSQL)', () => {
  it('queues the versions of many Tasks in one call, each once, and says which were new', async () => {
    const queued = await db.dataSource.transaction((manager) =>
      queue.enqueue(manager, [item('t1', 2), item('t2', 2), item('t1', 3), item('t1', 2)]),
    );
    expect(queued.map((q) => `${q.taskId}/${q.version}`)).toEqual(['t1/2', 't2/2', 't1/3']);
    expect(await versionsOf('t1')).toEqual([2, 3]);
    expect(await versionsOf('t2')).toEqual([2]);

    const again = await db.dataSource.transaction((manager) =>
      queue.enqueue(manager, [item('t1', 3), item('t1', 4)]),
    );
    expect(again.map((q) => q.version)).toEqual([4]);
    expect(await versionsOf('t1')).toEqual([2, 3, 4]);
  });

  it('queues nothing at or below the version the EHR already holds', async () => {
    await db.dataSource.transaction((manager) => queue.enqueue(manager, [item('t3', 2)]));
    const [delivery] = await queue.ofTask('t3');
    await db.dataSource.transaction((manager) => queue.markDelivered(manager, delivery));
    const queued = await db.dataSource.transaction((manager) =>
      queue.enqueue(manager, [item('t3', 2), item('t3', 1), item('t3', 5)]),
    );
    expect(queued.map((q) => q.version)).toEqual([5]);
    expect((await queue.ofTask('t3')).map((d) => [d.version, d.state])).toEqual([
      [2, 'delivered'],
      [5, 'pending'],
    ]);
  });

  it('pushes a Task to the endpoint it was first queued for', async () => {
    await db.dataSource.transaction((manager) =>
      queue.enqueue(manager, [
        item('t4', 2, 'ehr-a'),
        item('t4', 2, 'ehr-b'),
        item('t4', 3, 'ehr-b'),
      ]),
    );
    const deliveries = await queue.ofTask('t4');
    expect(deliveries.map((d) => [d.version, d.endpointId, d.ehrTaskId])).toEqual([
      [2, 'ehr-a', 'ehr-t4'],
      [3, 'ehr-a', 'ehr-t4'],
    ]);
    expect(deliveries[0].task).toMatchObject({ id: 't4', status: 'in-progress' });
  });

  it('leaves nothing behind when the transaction rolls back', async () => {
    await expect(
      db.dataSource.transaction(async (manager) => {
        await queue.enqueue(manager, [item('t5', 2)]);
        throw new Error('the inbox transaction failed');
      }),
    ).rejects.toThrow('the inbox transaction failed');
    expect(await versionsOf('t5')).toEqual([]);
  });
});

describe('PushQueue.markDelivered with the write made on the EHR (real PostgreSQL)', () => {
  const pulledVersion = async (ehrTaskId: string) =>
    (
      (await db.dataSource.query(
        `SELECT ehr_version_id FROM "${db.schema}".pulled_tasks WHERE endpoint_id = 'ehr-a' AND ehr_task_id = $1`,
        [ehrTaskId],
      )) as Array<{ ehr_version_id: string }>
    )[0]?.ehr_version_id;

  const pulled = (ehrTaskId: string, versionId: string) =>
    db.dataSource.query(
      `INSERT INTO "${db.schema}".pulled_tasks (endpoint_id, ehr_task_id, carerelay_task_id, ehr_version_id, ehr_last_updated)
       VALUES ('ehr-a', $1, $1, $2, '2026-12-03T10:00:00Z')`,
      [ehrTaskId, versionId],
    );

  const deliver = async (taskId: string, onto: string, written: string) => {
    await db.dataSource.transaction((manager) => queue.enqueue(manager, [item(taskId, 2)]));
    const [delivery] = await queue.ofTask(taskId);
    await db.dataSource.transaction((manager) =>
      queue.markDelivered(manager, delivery, {
        replacedVersionId: onto,
        versionId: written,
        lastUpdated: '2026-12-03T10:00:05Z',
      }),
    );
    expect((await queue.ofTask(taskId)).map((d) => d.state)).toEqual(['delivered']);
  };

  it("records the EHR version it wrote as the pull's when the pull had applied the one it replaced", async () => {
    await pulled('ehr-t6', 'ehr-v1');
    await deliver('t6', 'ehr-v1', 'ehr-v2');
    expect(await pulledVersion('ehr-t6')).toBe('ehr-v2');
  });

  it('leaves the pull alone when the write replaced a version the pull has not applied', async () => {
    await pulled('ehr-t7', 'ehr-v1');
    await deliver('t7', 'ehr-v1b', 'ehr-v2'); // the clinician's ehr-v1b is the pull's to apply
    expect(await pulledVersion('ehr-t7')).toBe('ehr-v1');
  });
});
