import { openTestDataSource } from '@carerelay/testing';
import { SubscriptionStore } from './subscription.store';
import { SUBSCRIPTION_MIGRATIONS } from './subscriptions.module';

// What the engine's loop sleeps on, against the real PostgreSQL: when the next heartbeat and the
// next delivery retry fall due, and that nothing is due when nothing is there.
let db: Awaited<ReturnType<typeof openTestDataSource>>;
let store: SubscriptionStore;

beforeAll(async () => {
  db = await openTestDataSource('subscription_store', {
    entities: [],
    migrations: SUBSCRIPTION_MIGRATIONS,
  });
  store = new SubscriptionStore(db.dataSource, db.schema);
});

afterAll(async () => {
  await db?.drop();
});

const owner = { clientId: 'client-a', organizationId: 'org-a', role: 'cbo' };
const subscribe = async (id: string, heartbeatSeconds?: number) => {
  await store.create(
    id,
    owner,
    {
      topic: 'http://example.org/topic',
      filters: [],
      endpoint: 'https://cbo.example.org/notify',
      payload: 'id-only',
      headers: [],
      heartbeatSeconds,
      timeoutSeconds: 5,
    },
    { resourceType: 'Subscription', id } as never,
  );
  await store.setStatus(id, 'active');
};

describe('SubscriptionStore due times (real PostgreSQL)', () => {
  it('knows of nothing due when there is no subscription', async () => {
    expect(await store.claimHeartbeats()).toEqual({ due: [], nextInMs: undefined });
    expect(await store.dueSubscriptions(10)).toEqual({ keys: [], nextDueInMs: undefined });
  });

  it('claims the heartbeats due and tells when the next one falls due', async () => {
    await subscribe('sub-slow', 30);
    await subscribe('sub-fast', 5);
    await subscribe('sub-quiet'); // no heartbeat
    await db.dataSource.query(
      `UPDATE "${db.schema}".subscriptions SET last_sent_at = now() - interval '6 seconds' WHERE id = 'sub-fast'`,
    );
    const first = await store.claimHeartbeats();
    expect(first.due.map((s) => s.id)).toEqual(['sub-fast']);
    // the claimed one is next due a period on (5 s), before the other (30 s)
    expect(first.nextInMs).toBeGreaterThan(4_000);
    expect(first.nextInMs).toBeLessThanOrEqual(5_000);
    const again = await store.claimHeartbeats();
    expect(again.due).toEqual([]);
    expect(again.nextInMs).toBeLessThanOrEqual(5_000);
  });

  it('lists the subscriptions with a due delivery and tells when a retry falls due', async () => {
    const focus = { type: 'Task', id: 't1', version: 1, occurredAt: new Date().toISOString() };
    await db.dataSource.transaction(async (manager) => {
      await store.appendEvent(manager, 'sub-slow', focus);
      await store.appendEvent(manager, 'sub-fast', focus);
    });
    expect((await store.dueSubscriptions(10)).keys.sort()).toEqual(['sub-fast', 'sub-slow']);
    await db.dataSource.transaction(async (manager) => {
      const [pending] = await store.pending(manager, 'sub-slow');
      await store.markFailed(manager, pending, 'delivery failed', {
        failed: false,
        delayMs: 60_000,
      });
    });
    const due = await store.dueSubscriptions(10);
    expect(due.keys).toEqual(['sub-fast']);
    expect(due.nextDueInMs).toBeGreaterThan(59_000);
    expect(due.nextDueInMs).toBeLessThanOrEqual(60_000);
    // More due than asked for: the next is due at once.
    expect(await store.dueSubscriptions(0)).toEqual({ keys: [], nextDueInMs: 0 });
  });
});
