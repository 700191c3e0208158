import {
  createTestTopics,
  deleteTestTopics,
  testEnv,
  uniqueName,
  waitFor,
} from '@carerelay/testing';
import { KafkajsMessageBus } from './kafkajs-message-bus';
import type { Subscription } from './message-bus';

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
