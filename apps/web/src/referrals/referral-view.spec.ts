import {
  chunksOf,
  CBO_TASK_IDENTIFIER,
  statusChanges,
  summarize,
  taskAttempt,
  taskReferralId,
  timersByReferral,
  type FollowupTimer,
  type Resource,
} from './referral-view';

const policy = { acceptWithinHours: 48, closeWithinDays: 30 };
const names = new Map([
  ['carerelay-platform', 'CareRelay'],
  ['hosp-northside', 'Northside Community Hospital'],
]);
const task: Resource = {
  resourceType: 'Task',
  id: 't2',
  status: 'requested',
  authoredOn: '2026-01-01T00:00:00Z',
  requester: { reference: 'Organization/carerelay-platform' },
  partOf: [{ reference: 'Task/src-1' }],
  identifier: [{ system: CBO_TASK_IDENTIFIER, value: 'src-1-2' }],
};
const timer = (t: Partial<FollowupTimer>): FollowupTimer => ({
  kind: 'acceptance',
  stage: 'deadline',
  attempt: 2,
  dueAt: '2026-01-05T17:00:00.000Z',
  deadlineAt: '2026-01-05T17:00:00.000Z',
  status: 'pending',
  ...t,
});

describe('deadlines from the follow-up service', () => {
  it('reads the referral and attempt of a CBO Task', () => {
    expect(taskReferralId(task)).toBe('src-1');
    expect(taskAttempt(task)).toBe(2);
  });

  it("uses the acceptance timer of this attempt, not the fixed fallback nor another attempt's", () => {
    const timers = [
      timer({ attempt: 1, deadlineAt: '2026-01-02T00:00:00.000Z' }),
      timer({}),
      timer({ stage: 'warning', dueAt: '2026-01-05T09:00:00.000Z' }),
      timer({ kind: 'closure', attempt: null, deadlineAt: '2026-01-31T00:00:00.000Z' }),
    ];
    const early = summarize(task, undefined, names, policy, new Date('2026-01-04T00:00:00Z'), {
      timers,
      referringOrganizationId: 'hosp-northside',
    });
    expect(early.deadline).toBe('2026-01-05T17:00:00.000Z');
    expect(early.deadlineSource).toBe('followup');
    // The fallback (48 h) would call this overdue; the policy's business days do not.
    expect(early.overdue).toBe(false);
    expect(early.dueSoon).toBe(false);
    expect(early.requester).toBe('Northside Community Hospital');
    const warned = summarize(task, undefined, names, policy, new Date('2026-01-05T10:00:00Z'), {
      timers,
    });
    expect(warned.dueSoon).toBe(true);
    const late = summarize(task, undefined, names, policy, new Date('2026-01-06T00:00:00Z'), {
      timers,
    });
    expect(late.overdue).toBe(true);
    expect(late.dueSoon).toBe(false);
  });

  it('an accepted referral works to the closure timer; a cancelled timer does not count', () => {
    const accepted = { ...task, status: 'accepted' };
    const timers = [
      timer({ status: 'cancelled' }),
      timer({ kind: 'closure', attempt: null, deadlineAt: '2026-01-31T00:00:00.000Z' }),
    ];
    const s = summarize(accepted, undefined, names, policy, new Date('2026-01-04T00:00:00Z'), {
      timers,
    });
    expect(s.deadline).toBe('2026-01-31T00:00:00.000Z');
    const none = summarize(task, undefined, names, policy, new Date('2026-01-02T00:00:00Z'), {
      timers: [timer({ status: 'cancelled' })],
    });
    expect(none.deadlineSource).toBe('fallback');
    expect(none.deadline).toBe('2026-01-03T00:00:00.000Z');
  });
});

describe('status history', () => {
  it('keeps the first version and every change of status, in version order', () => {
    const v = (versionId: string, status: string, reason?: string): Resource => ({
      resourceType: 'Task',
      status,
      meta: { versionId, lastUpdated: `2026-01-0${versionId}T00:00:00Z` },
      ...(reason ? { statusReason: { text: reason } } : {}),
    });
    const changes = statusChanges([
      v('4', 'in-progress'),
      v('1', 'requested'),
      v('2', 'requested'),
      v('3', 'accepted'),
      v('5', 'on-hold', 'Client travelling'),
    ]);
    expect(changes.map((c) => c.status)).toEqual([
      'requested',
      'accepted',
      'in-progress',
      'on-hold',
    ]);
    expect(changes[3].reason).toBe('Client travelling');
  });
});

describe('timers of many referrals in one answer', () => {
  it('groups a batch answer by referral, an empty list for one without timers', () => {
    const a1 = timer({ referralId: 'a', kind: 'acceptance' });
    const a2 = timer({ referralId: 'a', kind: 'reminder', stage: 'reminder' });
    const b1 = timer({ referralId: 'b', kind: 'closure' });
    const stray = timer({ referralId: 'z' });
    const grouped = timersByReferral(['a', 'b', 'c'], [a1, b1, a2, stray]);
    expect([...grouped.keys()]).toEqual(['a', 'b', 'c']);
    expect(grouped.get('a')).toEqual([a1, a2]);
    expect(grouped.get('b')).toEqual([b1]);
    expect(grouped.get('c')).toEqual([]);
    expect(grouped.has('z')).toBe(false);
  });

  it('asks in lists of at most 100 referrals', () => {
    const ids = Array.from({ length: 250 }, (_, i) => `r-${i}`);
    const chunks = chunksOf(ids);
    expect(chunks.map((c) => c.length)).toEqual([100, 100, 50]);
    expect(chunks.flat()).toEqual(ids);
    expect(chunksOf([])).toEqual([]);
  });
});
