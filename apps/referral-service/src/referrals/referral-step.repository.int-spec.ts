import { openTestDataSource } from '@carerelay/testing';
import { REFERRAL_MIGRATIONS } from '../migrations';
import type { PendingStep } from './referral-step';
import { ReferralStepRepository } from './referral-step.repository';

// The step runners' claims against the real PostgreSQL, as two instances of referral-service
// sharing one schema make them.
let db: Awaited<ReturnType<typeof openTestDataSource>>;
let first: ReferralStepRepository;
let second: ReferralStepRepository;

beforeAll(async () => {
  db = await openTestDataSource('referral_steps', {
    entities: [],
    migrations: REFERRAL_MIGRATIONS,
  });
  first = new ReferralStepRepository(db.dataSource, db.schema);
  second = new ReferralStepRepository(db.dataSource, db.schema);
});

afterAll(async () => {
  await db?.drop();
});

beforeEach(async () => {
  await db.dataSource.query(`DELETE FROM "${db.schema}".referral`);
});

const LEASE_MS = 60_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const step = (id: string): PendingStep => ({
  id,
  commands: [{ kind: 'read-source', task: { resourceType: 'Task', id } }],
  events: [],
  attempts: 0,
});

/** Referrals each with a step due now, inserted as intake inserts them. */
async function referralsWithDueSteps(count: number, prefix: string): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  for (const id of ids)
    await db.dataSource.transaction((m) =>
      first.insertReferral(m, { taskId: id, taskVersion: '1' }, step(`step-${id}`)),
    );
  return ids;
}

describe('ReferralStepRepository.claimDue (real PostgreSQL)', () => {
  it('gives two instances claiming at once disjoint referrals, every due one to one of them', async () => {
    const ids = await referralsWithDueSteps(40, 'split');
    const [a, b] = await Promise.all([
      first.claimDue(25, [], LEASE_MS),
      second.claimDue(25, [], LEASE_MS),
    ]);
    expect(a.filter((id) => b.includes(id))).toEqual([]);
    expect([...a, ...b].sort()).toEqual([...ids].sort());
  });

  it('passes over a claimed referral until its lease ends', async () => {
    const [id] = await referralsWithDueSteps(1, 'lease');
    expect(await first.claimDue(10, [], 300)).toEqual([id]);
    expect(await second.claimDue(10, [], 300)).toEqual([]);
    expect(await first.claimDue(10, [], 300)).toEqual([]);
    await sleep(400);
    // The runner that claimed it died: another instance takes it.
    expect(await second.claimDue(10, [], LEASE_MS)).toEqual([id]);
  });

  it('puts a failed try off to its retry, not to the lease', async () => {
    const [id] = await referralsWithDueSteps(1, 'failed');
    await first.claimDue(10, [], LEASE_MS);
    await first.failed(id, step(`step-${id}`), new Error('the FHIR API answered 503'));
    const [row] = (await db.dataSource.query(
      `SELECT extract(epoch FROM pending_due - now())::float8 AS wait_s,
              (pending->>'attempts')::int AS attempts
         FROM "${db.schema}".referral WHERE id = $1`,
      [id],
    )) as Array<{ wait_s: number; attempts: number }>;
    expect(row.attempts).toBe(1);
    // stepRetryMs(1) is 1 s: well before the 60 s lease.
    expect(row.wait_s).toBeLessThan(2);
    await sleep(1100);
    expect(await second.claimDue(10, [], LEASE_MS)).toEqual([id]);
  });

  it('skips a referral another transaction holds locked instead of waiting for it', async () => {
    const [locked, free] = await referralsWithDueSteps(2, 'locked');
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const holding = new Promise<void>((resolve) => (entered = resolve));
    const held = db.dataSource.transaction(async (m) => {
      await m.query(`SELECT 1 FROM "${db.schema}".referral WHERE id = $1 FOR UPDATE`, [locked]);
      entered();
      await released;
    });
    await holding;
    try {
      expect(await first.claimDue(10, [], LEASE_MS)).toEqual([free]);
    } finally {
      release();
      await held;
    }
    expect(await second.claimDue(10, [], LEASE_MS)).toEqual([locked]);
  });

  it('leaves out the referrals the instance is already carrying out', async () => {
    const [running, other] = await referralsWithDueSteps(2, 'except');
    expect(await first.claimDue(10, [running], LEASE_MS)).toEqual([other]);
  });
});
