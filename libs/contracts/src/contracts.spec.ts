import {
  CloudEventFormatError,
  EventSchemaError,
  EventTypes,
  ReferralEventTypes,
  allTopicDefinitions,
  eventRegistry,
  fromKafkaRecord,
  newCloudEvent,
  toKafkaRecord,
} from './index';

const routed = {
  referralId: 'ref-1',
  state: 'routed',
  occurredAt: '2026-11-23T10:00:00.000Z',
  sourceTaskId: 'task-1',
  targetOrganizationId: 'org-cbo-1',
};

describe('CloudEvents binary mode', () => {
  it('round-trips attributes through ce_* headers and data through the value', () => {
    const event = newCloudEvent({
      source: '/carerelay/referral-service',
      type: ReferralEventTypes.routed.type,
      subject: 'ref-1',
      data: routed,
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    });
    const record = toKafkaRecord(event, 'ref-1');
    expect(record.headers).toMatchObject({
      ce_specversion: '1.0',
      ce_type: 'org.carerelay.referral.routed.v1',
      ce_subject: 'ref-1',
      ce_id: event.id,
    });
    const raw = {
      key: Buffer.from(record.key),
      value: Buffer.from(record.value),
      headers: Object.fromEntries(
        Object.entries(record.headers).map(([k, v]) => [k, Buffer.from(v)]),
      ),
    };
    expect(fromKafkaRecord(raw)).toEqual(event);
  });

  it('rejects a message without CloudEvents headers or with a non-JSON value', () => {
    expect(() => fromKafkaRecord({ key: null, value: '{}', headers: {} })).toThrow(
      CloudEventFormatError,
    );
    const headers = {
      ce_specversion: '1.0',
      ce_id: 'x',
      ce_source: 's',
      ce_type: 't',
      ce_time: 'now',
    };
    expect(() => fromKafkaRecord({ key: null, value: 'not json', headers })).toThrow(/not JSON/);
  });
});

describe('event registry', () => {
  it('accepts valid data and keys referral events by referral id', () => {
    expect(() => eventRegistry.validate(ReferralEventTypes.routed.type, routed)).not.toThrow();
    expect(eventRegistry.get(ReferralEventTypes.routed.type).keyOf(routed)).toBe('ref-1');
    expect(eventRegistry.get(ReferralEventTypes.routed.type).topic).toBe('referral.events.v1');
  });

  it('names what is wrong with invalid data', () => {
    const bad = { ...routed, state: 'teleported', occurredAt: 'yesterday', extra: 1 };
    let caught: EventSchemaError | undefined;
    try {
      eventRegistry.validate(ReferralEventTypes.routed.type, bad);
    } catch (error) {
      caught = error as EventSchemaError;
    }
    expect(caught).toBeInstanceOf(EventSchemaError);
    const text = caught!.problems.join('\n');
    expect(text).toMatch(/\/state must be equal to one of the allowed values/);
    expect(text).toMatch(/\/occurredAt must match format "date-time"/);
    expect(text).toMatch(/must NOT have additional properties/);
  });

  it('refuses unknown event types', () => {
    expect(() => eventRegistry.validate('org.carerelay.nope.v1', {})).toThrow(/unknown event type/);
  });

  it('keys consent events by patient and accepts a network-wide consent', () => {
    const data = {
      consentId: 'c1',
      patientId: 'p1',
      organizationId: null,
      occurredAt: '2026-11-23T10:00:00Z',
      securityLabels: [],
    };
    expect(() => eventRegistry.validate(EventTypes.consentGranted.type, data)).not.toThrow();
    expect(EventTypes.consentGranted.keyOf(data)).toBe('p1');
  });
});

describe('topic catalog', () => {
  it('has every topic with a dead-letter twin and at least 3 partitions', () => {
    const names = allTopicDefinitions().map((t) => t.name);
    for (const topic of [
      'fhir.changes.v1',
      'referral.events.v1',
      'consent.events.v1',
      'followup.events.v1',
      'directory.events.v1',
    ]) {
      expect(names).toContain(topic);
      expect(names).toContain(`${topic}.dlq`);
    }
    expect(Math.min(...allTopicDefinitions().map((t) => t.partitions))).toBeGreaterThanOrEqual(3);
  });
});
