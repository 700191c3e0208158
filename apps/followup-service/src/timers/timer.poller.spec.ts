import { followupEventOf } from './timer.poller';
import { TimerRow } from './timer.store';

const timer = (more: Partial<TimerRow>): TimerRow => ({
  id: 't-1',
  referralId: 'ref-1',
  kind: 'acceptance',
  stage: 'deadline',
  attempt: 2,
  seq: 0,
  dueAt: new Date('2026-11-25T10:00:00Z'),
  deadlineAt: new Date('2026-11-25T10:00:00Z'),
  organizationId: 'cbo-1',
  networkId: 'default',
  createdAt: new Date('2026-11-23T10:00:00Z'),
  firedAt: null,
  eventId: null,
  cancelledAt: null,
  cancelReason: null,
  ...more,
});
const now = new Date('2026-11-25T10:00:01Z');

describe('the event a fired timer announces', () => {
  it('breaches on a deadline, with the attempt and the CBO', () => {
    const { definition, data } = followupEventOf(timer({}), now);
    expect(definition.type).toBe('org.carerelay.followup.breached.v1');
    expect(data).toEqual({
      referralId: 'ref-1',
      kind: 'acceptance',
      occurredAt: '2026-11-25T10:00:01.000Z',
      dueAt: '2026-11-25T10:00:00.000Z',
      organizationId: 'cbo-1',
      detail: {
        timerId: 't-1',
        stage: 'deadline',
        attempt: 2,
        firesAt: '2026-11-25T10:00:00.000Z',
        networkId: 'default',
      },
    });
  });

  it('is due for a warning before the deadline and for a reminder', () => {
    const warning = followupEventOf(
      timer({ stage: 'warning', dueAt: new Date('2026-11-25T06:00:00Z') }),
      now,
    );
    expect(warning.definition.type).toBe('org.carerelay.followup.due.v1');
    expect(warning.data.dueAt).toBe('2026-11-25T10:00:00.000Z');
    const reminder = followupEventOf(
      timer({ kind: 'reminder', stage: 'reminder', seq: 1, organizationId: null }),
      now,
    );
    expect(reminder.definition.type).toBe('org.carerelay.followup.due.v1');
    expect(reminder.data.organizationId).toBeUndefined();
    expect(reminder.data.detail).toMatchObject({ reminder: 2 });
  });
});
