import { DEFAULT_POLICY, FollowupPolicy } from '../policy/followup-policy';
import {
  ReferralFact,
  ReferralTrack,
  TimerPlan,
  emptyTrack,
  planActivity,
  planReferralEvent,
} from './timer.rules';

const policy: FollowupPolicy = {
  ...DEFAULT_POLICY,
  acceptance: { withinSeconds: 2 * 86_400, calendar: 'business', warnBeforeSeconds: 4 * 3600 },
  closure: { withinSeconds: 30 * 86_400, calendar: 'calendar' },
};
// Monday 2026-11-23, UTC.
const t = (hours: number) => new Date(Date.UTC(2026, 10, 23, 9) + hours * 3_600_000);
const fact = (state: ReferralFact['state'], hours: number, more: Partial<ReferralFact> = {}) => ({
  state,
  occurredAt: t(hours),
  ...more,
});

/** Applies facts one after another, as the handler does, returning every plan. */
function run(facts: ReferralFact[], start: ReferralTrack = emptyTrack('ref-1')): TimerPlan[] {
  const plans: TimerPlan[] = [];
  let track = start;
  for (const f of facts) {
    const plan = planReferralEvent(track, f, policy);
    plans.push(plan);
    track = plan.track;
  }
  return plans;
}
const started = (plan: TimerPlan) =>
  plan.start.map((timer) => `${timer.kind}:${timer.stage}:${timer.attempt ?? '-'}:${timer.seq}`);

describe('timer transition rules', () => {
  it('starts the closure clock on requested and inactivity reminders on any event', () => {
    const [plan] = run([fact('requested', 0)]);
    expect(started(plan)).toEqual([
      'closure:deadline:-:0',
      'reminder:reminder:-:0',
      'reminder:reminder:-:1',
      'reminder:reminder:-:2',
    ]);
    expect(plan.start[0].dueAt.toISOString()).toBe('2026-12-23T09:00:00.000Z');
    expect(plan.start.slice(1).map((r) => r.dueAt.toISOString())).toEqual([
      '2026-11-24T09:00:00.000Z',
      '2026-11-25T09:00:00.000Z',
      '2026-11-30T09:00:00.000Z',
    ]);
  });

  it('starts the acceptance clock of the routing attempt, with its warning', () => {
    const [, routed] = run([
      fact('requested', 0),
      fact('routed', 1, { attempt: 1, targetOrganizationId: 'cbo-a' }),
    ]);
    const acceptance = routed.start.filter((timer) => timer.kind === 'acceptance');
    expect(acceptance).toEqual([
      expect.objectContaining({ stage: 'deadline', attempt: 1, organizationId: 'cbo-a' }),
      expect.objectContaining({ stage: 'warning', attempt: 1, organizationId: 'cbo-a' }),
    ]);
    expect(acceptance[0].dueAt.toISOString()).toBe('2026-11-25T10:00:00.000Z');
    expect(acceptance[1].dueAt.toISOString()).toBe('2026-11-25T06:00:00.000Z');
    expect(routed.cancel).toContainEqual(
      expect.objectContaining({ kinds: ['acceptance'], attemptBelow: 1 }),
    );
    expect(routed.cancel).toContainEqual(expect.objectContaining({ kinds: ['reminder'] }));
  });

  it('stops the acceptance clock of the accepted attempt only', () => {
    const [, , accepted] = run([
      fact('requested', 0),
      fact('routed', 1, { attempt: 1 }),
      fact('accepted', 2, { attempt: 1 }),
    ]);
    expect(accepted.cancel).toContainEqual({
      kinds: ['acceptance'],
      attempt: 1,
      reason: 'accepted',
    });
    expect(started(accepted).filter((s) => !s.startsWith('reminder'))).toEqual([]);
  });

  it('restarts the acceptance clock on a reroute and stops the older attempt', () => {
    const plans = run([
      fact('routed', 1, { attempt: 1, targetOrganizationId: 'cbo-a' }),
      fact('rejected', 2, { attempt: 1 }),
      fact('rerouted', 3, { attempt: 2, targetOrganizationId: 'cbo-b' }),
    ]);
    const rerouted = plans[2];
    expect(rerouted.cancel).toContainEqual(
      expect.objectContaining({ kinds: ['acceptance'], attemptBelow: 2 }),
    );
    expect(rerouted.start).toContainEqual(
      expect.objectContaining({
        kind: 'acceptance',
        stage: 'deadline',
        attempt: 2,
        organizationId: 'cbo-b',
      }),
    );
    expect(rerouted.track).toMatchObject({ attempt: 2, organizationId: 'cbo-b' });
  });

  it('stops every clock on completed, cancelled or failed', () => {
    for (const state of ['completed', 'cancelled', 'failed'] as const) {
      const plans = run([fact('requested', 0), fact('routed', 1, { attempt: 1 }), fact(state, 5)]);
      const last = plans[2];
      expect(last.cancel).toEqual([
        { kinds: ['acceptance', 'reminder', 'closure'], reason: state },
      ]);
      expect(last.start).toEqual([]);
      expect(last.track.closedAs).toBe(state);
    }
  });

  it('never resurrects a clock after the referral closed, whatever arrives late', () => {
    const plans = run([
      fact('requested', 0),
      fact('cancelled', 5),
      fact('routed', 1, { attempt: 1 }),
      fact('requested', 0),
      fact('rerouted', 9, { attempt: 2 }),
    ]);
    for (const late of plans.slice(2)) {
      expect(late.start).toEqual([]);
      expect(late.cancel).toEqual([]);
      expect(late.ignored[0]).toMatch(/already cancelled/);
    }
  });

  it('ignores a duplicate routing of the same attempt', () => {
    const plans = run([fact('routed', 1, { attempt: 1 }), fact('routed', 1, { attempt: 1 })]);
    expect(started(plans[1])).toEqual([]);
    expect(plans[1].ignored).toEqual(['attempt 1 was already routed']);
  });

  it('does not restart an accepted attempt when its routing arrives after the acceptance', () => {
    const plans = run([
      fact('requested', 0),
      fact('accepted', 2, { attempt: 1 }),
      fact('routed', 1, { attempt: 1 }),
    ]);
    expect(started(plans[2]).filter((s) => s.startsWith('acceptance'))).toEqual([]);
    expect(plans[2].ignored).toEqual(['attempt 1 was already answered']);
  });

  it('ignores the routing of an older attempt', () => {
    const plans = run([fact('rerouted', 3, { attempt: 2 }), fact('routed', 1, { attempt: 1 })]);
    expect(started(plans[1]).filter((s) => s.startsWith('acceptance'))).toEqual([]);
    expect(plans[1].track.attempt).toBe(2);
  });

  it('numbers attempts by occurredAt when events carry no attempt', () => {
    const plans = run([
      fact('routed', 1),
      fact('rerouted', 3),
      fact('routed', 2), // older than the current attempt: stale
      fact('accepted', 4),
    ]);
    expect(plans[0].track.attempt).toBe(1);
    expect(plans[1].track.attempt).toBe(2);
    expect(plans[2].ignored).toEqual(['routed is older than the current attempt']);
    expect(plans[3].cancel).toContainEqual({
      kinds: ['acceptance'],
      attempt: 2,
      reason: 'accepted',
    });
  });

  it('restarts reminders only when activity moves forward', () => {
    const plans = run([fact('routed', 5, { attempt: 1 }), fact('awaiting-consent', 1)]);
    expect(started(plans[1])).toEqual([]);
    expect(plans[1].track.lastActivityAt).toEqual(t(5));
  });

  it('keeps the earliest request as the closure start', () => {
    const plans = run([fact('routed', 2, { attempt: 1 }), fact('requested', 0)]);
    expect(plans[0].start).toContainEqual(expect.objectContaining({ kind: 'closure' }));
    expect(plans[1].cancel).toContainEqual({ kinds: ['closure'], reason: 'earlier request' });
    expect(plans[1].start).toContainEqual(
      expect.objectContaining({ kind: 'closure', dueAt: new Date('2026-12-23T09:00:00.000Z') }),
    );
  });

  it('treats a contact attempt as activity but schedules nothing on a closed referral', () => {
    const [requested, , closed] = run([
      fact('requested', 0),
      fact('routed', 1),
      fact('completed', 3),
    ]);
    const contact = planActivity(requested.track, t(10), policy);
    expect(contact.cancel).toEqual([{ kinds: ['reminder'], reason: 'activity' }]);
    expect(contact.start.map((r) => r.dueAt)).toEqual([t(34), t(58), t(10 + 7 * 24)]);
    const afterClose = planActivity(closed.track, t(10), policy);
    expect(afterClose.start).toEqual([]);
    expect(afterClose.track.lastActivityAt).toEqual(t(10));
  });
});
