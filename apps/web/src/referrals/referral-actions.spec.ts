import { applyAction, outcomeProcedure } from './referral-actions';
import { matchesFilter, matchesSearch, summarize } from './referral-view';

const task = {
  resourceType: 'Task',
  id: 't1',
  status: 'requested',
  authoredOn: '2026-01-01T00:00:00Z',
  for: { reference: 'Patient/p1' },
  requester: { reference: 'Organization/carerelay-platform' },
  owner: { reference: 'Organization/cbo-1' },
  statusReason: { text: 'old' },
};
const policy = { acceptWithinHours: 48, closeWithinDays: 30 };

describe('referral actions', () => {
  it('reject: coded reason plus the words analytics reads, the old reason gone', () => {
    const next = applyAction(task, { action: 'reject', reason: 'no-capacity', text: ' full ' });
    expect(next.status).toBe('rejected');
    expect(next.statusReason).toEqual({
      coding: [{ system: 'urn:carerelay:cbo-reject-reason', code: 'no-capacity' }],
      text: 'No capacity: full',
    });
    expect(task.status).toBe('requested');
  });

  it('complete: the Procedure as resulting activity in Task.output', () => {
    const next = applyAction(
      { ...task, status: 'in-progress' },
      {
        action: 'complete',
        outcome: 'Enrolled',
        procedureId: 'pr1',
      },
    );
    expect(next.status).toBe('completed');
    expect(next.statusReason).toBeUndefined();
    expect(JSON.stringify(next.output)).toContain('Procedure/pr1');
    const procedure = outcomeProcedure(
      task,
      { resourceType: 'ServiceRequest', id: 's1' },
      'Enrolled',
      'cbo-1',
      new Date(0),
    );
    expect(procedure.subject).toEqual({ reference: 'Patient/p1' });
    expect(procedure.basedOn).toEqual([{ reference: 'ServiceRequest/s1' }]);
  });
});

describe('referral view', () => {
  const names = new Map([['carerelay-platform', 'CareRelay']]);
  it('a new referral is due for acceptance, overdue past the window', () => {
    const s = summarize(task, undefined, names, policy, new Date('2026-01-02T12:00:00Z'));
    expect(s.deadline).toBe('2026-01-03T00:00:00.000Z');
    expect(s.dueSoon).toBe(true);
    expect(s.overdue).toBe(false);
    expect(s.requester).toBe('CareRelay');
    const late = summarize(task, undefined, names, policy, new Date('2026-01-04T00:00:00Z'));
    expect(late.overdue).toBe(true);
    expect(matchesFilter(late, 'overdue')).toBe(true);
    expect(matchesFilter(late, 'accepted')).toBe(false);
  });

  it('a redacted Task is awaiting consent; search folds case and accents', () => {
    const redacted = { ...task, meta: { security: [{ code: 'REDACTED' }] } };
    const s = summarize(
      redacted,
      { resourceType: 'ServiceRequest', code: { text: 'Alimentación' } },
      names,
      policy,
      new Date(0),
    );
    expect(s.awaitingConsent).toBe(true);
    expect(matchesSearch(s, 'ALIMENTACION')).toBe(true);
    expect(matchesSearch(s, 'housing')).toBe(false);
  });
});
