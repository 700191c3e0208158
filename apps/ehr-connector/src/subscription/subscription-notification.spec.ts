import {
  NotificationRefused,
  parseNotification,
  progressOf,
  type SubscriptionNotification,
} from './subscription-notification';

const EHR = 'https://ehr.example/fhir';

/** A Backport 1.1 notification Bundle (the SubscriptionStatus, then one entry per event). */
function bundle(
  type: string,
  since: string | number,
  events: Array<{ n: string | number; task?: string; resource?: object }> = [],
): Record<string, unknown> {
  return {
    resourceType: 'Bundle',
    type: 'history',
    entry: [
      {
        fullUrl: 'urn:uuid:1',
        resource: {
          resourceType: 'Parameters',
          parameter: [
            { name: 'subscription', valueReference: { reference: `${EHR}/Subscription/s1` } },
            { name: 'topic', valueCanonical: 'http://example.org/topic' },
            { name: 'status', valueCode: 'active' },
            { name: 'type', valueCode: type },
            { name: 'events-since-subscription-start', valueString: String(since) },
            ...events.map((e) => ({
              name: 'notification-event',
              part: [
                { name: 'event-number', valueString: String(e.n) },
                ...(e.task
                  ? [{ name: 'focus', valueReference: { reference: `${EHR}/Task/${e.task}` } }]
                  : []),
              ],
            })),
          ],
        },
      },
      ...events
        .filter((e) => e.task)
        .map((e) => ({ fullUrl: `${EHR}/Task/${e.task}`, resource: e.resource })),
    ],
  };
}

describe('parseNotification (R4 Backport rest-hook Bundle)', () => {
  it('reads an id-only event-notification: type, subscription, counter, events by number', () => {
    const parsed = parseNotification(
      bundle('event-notification', 7, [
        { n: 7, task: 'b' },
        { n: 6, task: 'a' },
      ]),
    );
    expect(parsed).toEqual({
      type: 'event-notification',
      subscription: `${EHR}/Subscription/s1`,
      eventsSinceSubscriptionStart: 7,
      events: [
        { eventNumber: 6, focus: `${EHR}/Task/a`, resource: undefined },
        { eventNumber: 7, focus: `${EHR}/Task/b`, resource: undefined },
      ],
    });
  });

  it('takes the carried resource of a full-resource notification, matched by fullUrl', () => {
    const task = { resourceType: 'Task', id: 'a', status: 'requested' };
    const parsed = parseNotification(
      bundle('event-notification', 1, [{ n: 1, task: 'a', resource: task }]),
    );
    expect(parsed.events[0].resource).toEqual(task);
  });

  it('reads handshakes and heartbeats, and integer counters some servers send', () => {
    const heartbeat = bundle('heartbeat', 3);
    const status = (heartbeat.entry as Array<{ resource: { parameter: object[] } }>)[0].resource;
    status.parameter[4] = { name: 'events-since-subscription-start', valueInteger: 3 };
    expect(parseNotification(heartbeat)).toMatchObject({
      type: 'heartbeat',
      eventsSinceSubscriptionStart: 3,
      events: [],
    });
    expect(parseNotification(bundle('handshake', 0)).type).toBe('handshake');
  });

  it('numbers Backport 1.0 notifications (no notification-event) from the counter', () => {
    const old = bundle('event-notification', 5);
    const entries = old.entry as object[];
    const status = (entries[0] as { resource: { parameter: object[] } }).resource;
    status.parameter.push({ name: 'events-in-notification', valueInteger: 2 });
    entries.push({ fullUrl: `${EHR}/Task/x` }, { fullUrl: `${EHR}/Task/y` });
    expect(parseNotification(old).events).toEqual([
      { eventNumber: 4, focus: `${EHR}/Task/x`, resource: undefined },
      { eventNumber: 5, focus: `${EHR}/Task/y`, resource: undefined },
    ]);
  });

  it.each([
    ['not a Bundle', { resourceType: 'Parameters' }],
    ['not a history Bundle', { ...bundle('handshake', 0), type: 'transaction' }],
    ['no entries', { resourceType: 'Bundle', type: 'history', entry: [] }],
    [
      'a first entry that is no Parameters',
      { resourceType: 'Bundle', type: 'history', entry: [{ resource: { resourceType: 'Task' } }] },
    ],
    ['an unknown type', bundle('surprise', 0)],
    ['a negative counter', bundle('heartbeat', -1)],
    ['a counter that is no number', bundle('heartbeat', '1e3')],
    [
      'an event number that is no number',
      bundle('event-notification', 1, [{ n: 'one', task: 'a' }]),
    ],
    ['an event-notification without events', bundle('event-notification', 1)],
    [null, null],
  ])('refuses %s', (_what, body) => {
    expect(() => parseNotification(body)).toThrow(NotificationRefused);
  });
});

describe('progressOf (the event-number gap check)', () => {
  const notification = (since: number, numbers: number[]): SubscriptionNotification => ({
    type: numbers.length > 0 ? 'event-notification' : 'heartbeat',
    subscription: 'Subscription/s1',
    eventsSinceSubscriptionStart: since,
    events: numbers.map((eventNumber) => ({ eventNumber })),
  });

  it('the next events in order: all fresh, none missed', () => {
    expect(progressOf(notification(5, [4, 5]), 3)).toEqual({
      fresh: [{ eventNumber: 4 }, { eventNumber: 5 }],
      missed: 0,
      last: 5,
    });
  });

  it('a duplicate: nothing fresh, nothing missed, the last one stays', () => {
    expect(progressOf(notification(5, [4, 5]), 5)).toEqual({ fresh: [], missed: 0, last: 5 });
  });

  it('a late event below the last applied one is not applied again', () => {
    expect(progressOf(notification(9, [4]), 9)).toEqual({ fresh: [], missed: 0, last: 9 });
  });

  it('a hole before the first fresh event counts the lost ones', () => {
    expect(progressOf(notification(8, [7, 8]), 3)).toMatchObject({ missed: 3, last: 8 });
    expect(progressOf(notification(8, [5, 8]), 3)).toMatchObject({ missed: 3, last: 8 });
  });

  it('a heartbeat or handshake counting more events than arrived', () => {
    expect(progressOf(notification(4, []), 2)).toEqual({ fresh: [], missed: 2, last: 4 });
    expect(progressOf(notification(0, []), 0)).toEqual({ fresh: [], missed: 0, last: 0 });
  });
});
