import {
  createTestTopics,
  deleteTestTopics,
  testEnv,
  uniqueName,
  waitFor,
} from '@carerelay/testing';
import { Kafka } from 'kafkajs';
import { KafkajsMessageBus } from './kafkajs-message-bus';
import { NO_EFFECT, type Subscription } from './message-bus';

// kafkajs gives up on a consumer after an error it does not deem retriable (a TypeError escaping
// the handler, a non-retriable protocol error) and does not restart it: the service would read
// nothing more. The bus replaces such a consumer, and the message that killed it is read again
// (its offset was never committed).
describe('KafkajsMessageBus when kafkajs stops a consumer for good', () => {
  const topic = uniqueName('test.crash').replace(/_/g, '-');
  const bus = new KafkajsMessageBus({
    brokers: testEnv().KAFKA_BROKERS.split(','),
    clientId: uniqueName('crash-test'),
  });
  let subscription: Subscription | undefined;

  beforeAll(() => createTestTopics([topic], 1));
  afterAll(async () => {
    await subscription?.close();
    await bus.close();
    await deleteTestTopics([topic]);
  }, 30_000);

  it('starts a new consumer, which reads the fatal message again and goes on', async () => {
    const handled: string[] = [];
    let thrown = 0;
    subscription = await bus.subscribe({
      groupId: uniqueName('crash-group'),
      topics: [topic],
      partitionsConsumedConcurrently: 1,
      handle: async (message) => {
        const value = message.value?.toString() ?? '';
        if (value === 'fatal' && thrown === 0) {
          thrown++;
          // What a programming error looks like to kafkajs: unrecoverable, no restart.
          throw new TypeError('handler bug');
        }
        handled.push(value);
      },
    });
    await subscription.ready();
    await bus.publish(
      ['one', 'fatal', 'three'].map((value) => ({ topic, key: 'k', value, headers: {} })),
    );

    await waitFor(() => handled.length === 3, { timeoutMs: 30_000, what: 'all three handled' });
    expect(thrown).toBe(1);
    expect(handled).toEqual(['one', 'fatal', 'three']);
  }, 45_000);
});

// Committing an offset is a request to the broker and a write to its offsets log. A consumer that
// passes over most of a topic (a service following one resource type of fhir.changes.v1) need not
// pay it per message: what it passed over is committed with its next effect, or after a while.
describe('KafkajsMessageBus commits of messages without effect', () => {
  const topic = uniqueName('test.deferred').replace(/_/g, '-');
  const groupId = uniqueName('deferred-group');
  const brokers = testEnv().KAFKA_BROKERS.split(',');
  const bus = new KafkajsMessageBus({ brokers, clientId: uniqueName('deferred-test') });
  const admin = new Kafka({ brokers, clientId: uniqueName('deferred-admin') }).admin();
  let subscription: Subscription | undefined;

  beforeAll(async () => {
    await createTestTopics([topic], 1);
    await admin.connect();
  });
  afterAll(async () => {
    await subscription?.close();
    await bus.close();
    await admin.disconnect();
    await deleteTestTopics([topic]);
  }, 30_000);

  const committed = async (): Promise<number> => {
    const [{ partitions }] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return Number(partitions[0].offset);
  };
  const send = (values: string[]) =>
    bus.publish(values.map((value) => ({ topic, key: 'k', value, headers: {} })));

  const handled: string[] = [];

  it('commits them with the next effect, or on their own once the delay is up', async () => {
    subscription = await bus.subscribe({
      groupId,
      topics: [topic],
      partitionsConsumedConcurrently: 1,
      deferredCommitMs: 3_000,
      handle: async (message) => {
        const value = message.value?.toString() ?? '';
        handled.push(value);
        return value.startsWith('pass') ? NO_EFFECT : undefined;
      },
    });
    await subscription.ready();

    await send(['apply-1']);
    await waitFor(async () => (await committed()) === 1, { what: 'the effect committed' });
    await send(['pass-1', 'pass-2']);
    await waitFor(() => handled.length === 3, { what: 'both passed over' });
    // Not at once: the two are committed later.
    expect(await committed()).toBe(1);
    await send(['apply-2']);
    // The effect's commit covers the two before it.
    await waitFor(async () => (await committed()) === 4, { what: 'the effect committed' });

    await send(['pass-3']);
    await waitFor(() => handled.length === 5, { what: 'passed over' });
    expect(await committed()).toBe(4);
    await waitFor(async () => (await committed()) === 5, {
      what: 'the passed-over message committed after the delay',
      timeoutMs: 10_000,
    });
    expect(handled).toEqual(['apply-1', 'pass-1', 'pass-2', 'apply-2', 'pass-3']);
  }, 45_000);

  it('commits what it put off when the subscription closes', async () => {
    await send(['pass-4']);
    await waitFor(() => handled.length === 6, { what: 'passed over' });
    // Closed before the delay is up.
    expect(await committed()).toBe(5);
    await subscription?.close();
    subscription = undefined;
    expect(await committed()).toBe(6);
  }, 30_000);
});

// The lag each consumer reports every 15 s and the health check's cluster description share one
// admin client of the bus, connected once.
describe('KafkajsMessageBus lag and cluster description', () => {
  const topic = uniqueName('test.lag').replace(/_/g, '-');
  const groupId = uniqueName('lag-group');
  const bus = new KafkajsMessageBus({
    brokers: testEnv().KAFKA_BROKERS.split(','),
    clientId: uniqueName('lag-test'),
  });
  let subscription: Subscription | undefined;

  beforeAll(() => createTestTopics([topic], 2));
  afterAll(async () => {
    await subscription?.close();
    await bus.close();
    await deleteTestTopics([topic]);
  }, 30_000);

  it('counts what a group has not read on every partition, again and again on the one client', async () => {
    await bus.publish(
      ['a', 'b', 'c', 'd', 'e'].map((value, i) => ({
        topic,
        key: `k${i}`,
        value,
        headers: {},
      })),
    );
    expect(await bus.lag(groupId, [topic])).toEqual({ [topic]: 5 });
    expect((await bus.describeCluster()).brokers).toBeGreaterThanOrEqual(1);

    const handled: string[] = [];
    subscription = await bus.subscribe({
      groupId,
      topics: [topic],
      handle: async (message) => {
        handled.push(message.value?.toString() ?? '');
      },
    });
    await subscription.ready();
    await waitFor(() => handled.length === 5, { what: 'all five handled', timeoutMs: 30_000 });
    await waitFor(async () => (await bus.lag(groupId, [topic]))[topic] === 0, {
      what: 'the lag down to 0 once the offsets are committed',
      timeoutMs: 10_000,
    });
    await bus.publish([{ topic, key: 'k0', value: 'f', headers: {} }]);
    await waitFor(() => handled.length === 6, { what: 'the sixth handled', timeoutMs: 30_000 });
    await subscription.close();
    subscription = undefined;
    expect(await bus.lag(groupId, [topic])).toEqual({ [topic]: 0 });
    expect(await bus.lag(uniqueName('lag-unread'), [topic])).toEqual({ [topic]: 6 });
  }, 60_000);

  it('answers the calls beside and after a failed one', async () => {
    const missing = uniqueName('test.lag-missing').replace(/_/g, '-');
    const [failed, beside] = await Promise.allSettled([
      bus.lag(groupId, [missing]),
      bus.describeCluster(),
    ]);
    expect(failed.status).toBe('rejected');
    expect(beside.status).toBe('fulfilled');
    expect(await bus.lag(groupId, [topic])).toEqual({ [topic]: 0 });
  }, 30_000);
});
