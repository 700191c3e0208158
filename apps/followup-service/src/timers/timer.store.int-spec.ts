import { openTestDataSource } from '@carerelay/testing';
import type { EntityManager } from 'typeorm';
import { FOLLOWUP_MIGRATIONS } from '../migrations';
import type { NewTimer, TimerKind } from './timer.rules';
import { TimerStore } from './timer.store';

// The track's lock and the timers' cancellation against the real PostgreSQL: two transactions at
// once on one referral, as two instances (or a redelivery during a rebalance) would run them.
let db: Awaited<ReturnType<typeof openTestDataSource>>;
let store: TimerStore;

beforeAll(async () => {
  db = await openTestDataSource('timer_store', { entities: [], migrations: FOLLOWUP_MIGRATIONS });
  store = new TimerStore(db.schema);
});

afterAll(async () => {
  await db?.drop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `fn` in a transaction that stays open until `release` is called. */
function held(fn: (manager: EntityManager) => Promise<unknown>) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let entered!: () => void;
  const ready = new Promise<void>((resolve) => (entered = resolve));
  const done = db.dataSource.transaction(async (manager) => {
    await fn(manager);
    entered();
    await released;
  });
  return { ready, release, done };
}

/** Settles to 'pending' when `promise` has not settled within `ms`. */
const stateAfter = (promise: Promise<unknown>, ms: number) =>
  Promise.race([promise.then(() => 'settled'), sleep(ms).then(() => 'pending')]);

const timer = (kind: TimerKind, attempt: number | null, seq = 0): NewTimer => ({
  kind,
  stage: kind === 'reminder' ? 'reminder' : 'deadline',
  attempt,
  seq,
  dueAt: new Date(Date.now() + 3_600_000 + seq),
  deadlineAt: new Date(Date.now() + 3_600_000),
  organizationId: 'cbo-a',
});

const timersOf = async (referralId: string) =>
  (
    (await db.dataSource.query(
      `SELECT kind, attempt, seq, cancel_reason FROM "${db.schema}".timer WHERE referral_id = $1
        ORDER BY kind, attempt, seq`,
      [referralId],
    )) as Array<{ kind: string; attempt: number | null; seq: number; cancel_reason: string | null }>
  ).map((t) => `${t.kind}/${t.attempt}/${t.seq}: ${t.cancel_reason ?? 'pending'}`);

describe('TimerStore.lockTrack (real PostgreSQL)', () => {
  it('creates a missing track, then returns the saved one', async () => {
    const created = await db.dataSource.transaction((m) => store.lockTrack(m, 'ref-1'));
    expect(created).toMatchObject({ referralId: 'ref-1', networkId: null, attempt: null });
    await db.dataSource.transaction(async (m) => {
      const track = await store.lockTrack(m, 'ref-1');
      await store.saveTrack(m, {
        ...track,
        networkId: 'net-1',
        organizationId: 'cbo-a',
        attempt: 2,
      });
    });
    const again = await db.dataSource.transaction((m) => store.lockTrack(m, 'ref-1'));
    expect(again).toMatchObject({ networkId: 'net-1', organizationId: 'cbo-a', attempt: 2 });
  });

  it('holds a second transaction until the first commits, which then reads what it saved', async () => {
    await db.dataSource.transaction((m) => store.lockTrack(m, 'ref-2'));
    const first = held(async (m) => {
      const track = await store.lockTrack(m, 'ref-2');
      await store.saveTrack(m, { ...track, attempt: 7 });
    });
    await first.ready;
    const second = db.dataSource.transaction((m) => store.lockTrack(m, 'ref-2'));
    expect(await stateAfter(second, 300)).toBe('pending');
    first.release();
    await first.done;
    expect(await second).toMatchObject({ referralId: 'ref-2', attempt: 7 });
  });

  it('returns the track another transaction created while this one waited for it', async () => {
    // The first transaction's insert is not committed: the second's insert waits on it, then
    // finds the row committed after its statement's snapshot.
    const first = held(async (m) => {
      const track = await store.lockTrack(m, 'ref-3');
      await store.saveTrack(m, { ...track, organizationId: 'cbo-b' });
    });
    await first.ready;
    const second = db.dataSource.transaction((m) => store.lockTrack(m, 'ref-3'));
    expect(await stateAfter(second, 300)).toBe('pending');
    first.release();
    await first.done;
    expect(await second).toMatchObject({ referralId: 'ref-3', organizationId: 'cbo-b' });
    const [{ count }] = (await db.dataSource.query(
      `SELECT count(*)::int AS count FROM "${db.schema}".referral_track WHERE referral_id = 'ref-3'`,
    )) as Array<{ count: number }>;
    expect(count).toBe(1);
  });
});

describe('TimerStore.cancel (real PostgreSQL)', () => {
  it("cancels by all of a plan's rules in one call, a timer two rules match with the first one's reason", async () => {
    await db.dataSource.transaction((m) =>
      store.insert(m, 'ref-c', 'net-1', [
        timer('acceptance', 1),
        timer('acceptance', 2),
        timer('reminder', 1, 0),
        timer('reminder', 1, 1),
        timer('reminder', 2, 0),
        timer('closure', null),
      ]),
    );
    const cancelled = await db.dataSource.transaction((m) =>
      store.cancel(m, 'ref-c', [
        { kinds: ['acceptance'], attemptBelow: 2, reason: 'rerouted' },
        { kinds: ['acceptance', 'reminder'], attempt: 1, reason: 'answered' },
      ]),
    );
    expect(cancelled).toBe(3);
    expect(await timersOf('ref-c')).toEqual([
      'acceptance/1/0: rerouted',
      'acceptance/2/0: pending',
      'closure/null/0: pending',
      'reminder/1/0: answered',
      'reminder/1/1: answered',
      'reminder/2/0: pending',
    ]);

    // Cancelled timers stay as they are; no rule, no statement.
    const again = await db.dataSource.transaction(async (m) => [
      await store.cancel(m, 'ref-c', [{ kinds: ['acceptance', 'closure'], reason: 'closed' }]),
      await store.cancel(m, 'ref-c', []),
    ]);
    expect(again).toEqual([2, 0]);
    expect(await timersOf('ref-c')).toEqual([
      'acceptance/1/0: rerouted',
      'acceptance/2/0: closed',
      'closure/null/0: closed',
      'reminder/1/0: answered',
      'reminder/1/1: answered',
      'reminder/2/0: pending',
    ]);
  });
});
