import { policyFromDto, policyView } from './policy.mapping';

describe('policy bodies', () => {
  it('normalizes durations to seconds with defaults for calendars and zone', () => {
    const { policy, problems } = policyFromDto('net-a', {
      acceptance: { within: 'P2D', warnBefore: 'PT4H' },
      reminders: ['P1W', 'PT24H', 172_800, 'PT24H'],
      closure: { within: 'P30D' },
      holidays: ['2026-12-25', '2026-11-26', '2026-12-25'],
      organizations: ['cbo-1', 'cbo-1', 'hospital-a'],
    });
    expect(problems).toEqual([]);
    expect(policy).toEqual({
      networkId: 'net-a',
      timeZone: 'UTC',
      holidays: ['2026-11-26', '2026-12-25'],
      acceptance: { withinSeconds: 172_800, calendar: 'business', warnBeforeSeconds: 14_400 },
      reminderSeconds: [86_400, 172_800, 604_800],
      closure: { withinSeconds: 2_592_000, calendar: 'calendar' },
      organizations: ['cbo-1', 'hospital-a'],
    });
    expect(policyView({ ...policy, updatedAt: new Date(0) })).toMatchObject({
      acceptance: { within: 'P2D', warnBefore: 'PT4H', calendar: 'business' },
      reminders: ['P1D', 'P2D', 'P7D'],
      closure: { within: 'P30D' },
    });
  });

  it('names the fields whose values contradict each other', () => {
    const { problems } = policyFromDto('net-a', {
      acceptance: { within: 0 },
      reminders: ['PT0S'],
      closure: { within: 'PT1H', warnBefore: 'PT2H' },
    });
    expect(problems).toEqual([
      'acceptance.within must be longer than zero',
      'reminders.0 must be longer than zero',
      'closure.warnBefore must be shorter than closure.within',
    ]);
  });
});
