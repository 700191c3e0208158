import { Logger } from '@nestjs/common';
import type { WebConfig } from '../web.config';
import { LiveUpdatesService } from './live-updates.service';

// kafkajs stood in for: what the service asks of its consumer and admin, in order.
const mockKafka = {
  calls: [] as string[],
  handlers: new Map<string, () => void>(),
  eachMessage: undefined as
    ((payload: { message: { value: Buffer } }) => Promise<void>) | undefined,
  offsets: [] as Array<{
    resolve: (offsets: Array<{ partition: number; offset: string }>) => void;
    reject: (error: Error) => void;
    timestamp: number;
  }>,
};
jest.mock('kafkajs', () => ({
  logLevel: { NOTHING: 0 },
  Kafka: class {
    consumer() {
      const calls = mockKafka.calls;
      return {
        events: { FETCH: 'consumer.fetch', GROUP_JOIN: 'consumer.group_join' },
        connect: async () => undefined,
        subscribe: async () => undefined,
        on: (event: string, listener: () => void) => {
          mockKafka.handlers.set(event, listener);
          return () => mockKafka.handlers.delete(event);
        },
        run: async ({ eachMessage }: { eachMessage: typeof mockKafka.eachMessage }) => {
          mockKafka.eachMessage = eachMessage;
        },
        pause: () => calls.push('pause'),
        resume: () => calls.push('resume'),
        seek: ({ partition, offset }: { partition: number; offset: string }) =>
          calls.push(`seek ${partition}@${offset}`),
        paused: () => [{ topic: 'fhir.changes.v1', partitions: [0, 1] }],
        disconnect: async () => calls.push('disconnect'),
      };
    }
    admin() {
      return {
        connect: async () => undefined,
        disconnect: async () => undefined,
        fetchTopicOffsetsByTimestamp: (_topic: string, timestamp: number) =>
          new Promise((resolve, reject) => mockKafka.offsets.push({ resolve, reject, timestamp })),
      };
    }
  },
}));

const config = {
  KAFKA_BROKERS: '127.0.0.1:9092',
  WEB_LIVE_CONSUMER_GROUP: 'web-live',
  WEB_PORT: 8087,
} as WebConfig;
const emit = (event: string) => mockKafka.handlers.get(event)?.();
const settle = () => new Promise((resolve) => setImmediate(resolve));
const brokerAnswers = async (at = 0, offsets = [{ partition: 0, offset: '42' }]) => {
  mockKafka.offsets[at].resolve(offsets);
  await settle();
};

async function started(): Promise<LiveUpdatesService> {
  const live = new LiveUpdatesService(config);
  const bootstrap = live.onApplicationBootstrap();
  await settle();
  expect(mockKafka.calls).toEqual([]); // not paused before the first fetch
  emit('consumer.group_join');
  expect(mockKafka.calls).toEqual([]);
  emit('consumer.fetch');
  await bootstrap;
  return live;
}

beforeAll(() => Logger.overrideLogger(false));
beforeEach(() => {
  mockKafka.calls = [];
  mockKafka.handlers.clear();
  mockKafka.offsets = [];
});

describe('LiveUpdatesService', () => {
  it('pauses once placed, and resumes at the first stream from its opening on', async () => {
    const live = await started();
    expect(mockKafka.calls).toEqual(['pause']);
    const before = Date.now();
    const first = live.subscribe('org-1', () => undefined);
    const second = live.subscribe('org-2', () => undefined);
    expect(mockKafka.offsets).toHaveLength(1); // asked at once, once
    expect(mockKafka.offsets[0].timestamp).toBeLessThanOrEqual(before);
    expect(mockKafka.offsets[0].timestamp).toBeGreaterThan(before - 5000);
    await brokerAnswers(0, [
      { partition: 0, offset: '42' },
      { partition: 1, offset: '7' },
    ]);
    expect(mockKafka.calls).toEqual(['pause', 'seek 0@42', 'seek 1@7', 'resume']);
    first();
    first(); // closing twice counts once
    expect(mockKafka.calls.at(-1)).toBe('resume');
    second();
    expect(mockKafka.calls.at(-1)).toBe('pause');
  });

  it('a resume overtaken by a pause is dropped; the next stream moves the feed itself', async () => {
    const live = await started();
    live.subscribe('org-1', () => undefined)();
    const reopened = live.subscribe('org-1', () => undefined);
    await brokerAnswers(0);
    expect(mockKafka.calls).toEqual(['pause', 'pause']);
    await brokerAnswers(1, [{ partition: 0, offset: '50' }]);
    expect(mockKafka.calls).toEqual(['pause', 'pause', 'seek 0@50', 'resume']);
    reopened();
  });

  it('a shutdown while the broker answers leaves the feed alone', async () => {
    const live = await started();
    live.subscribe('org-1', () => undefined);
    await live.onApplicationShutdown();
    await brokerAnswers(0);
    expect(mockKafka.calls).toEqual(['pause', 'disconnect']);
  });

  it('without an answer, resumes at the end the consumer finds, not the backlog', async () => {
    const live = await started();
    live.subscribe('org-1', () => undefined);
    mockKafka.offsets[0].reject(new Error('broker gone'));
    await settle();
    expect(mockKafka.calls).toEqual(['pause', 'seek 0@-1', 'seek 1@-1', 'resume']);
  });

  it('a consumer kafkajs restarted is paused again while no stream is open', async () => {
    const live = await started();
    emit('consumer.group_join');
    expect(mockKafka.calls).toEqual(['pause', 'pause']);
    live.subscribe('org-1', () => undefined);
    await brokerAnswers(0);
    emit('consumer.group_join');
    expect(mockKafka.calls).toEqual(['pause', 'pause', 'seek 0@42', 'resume']);
  });

  it("gives each listener its own organization's Tasks", async () => {
    const live = await started();
    const seen: string[] = [];
    live.subscribe('org-1', (change) => seen.push(`org-1 ${change.id}`));
    live.subscribe('org-2', (change) => seen.push(`org-2 ${change.id}`));
    const change = (data: object) =>
      mockKafka.eachMessage!({ message: { value: Buffer.from(JSON.stringify(data)) } });
    await change({ resourceType: 'Task', id: 't1', organizations: ['org-1'] });
    await change({ resourceType: 'Patient', id: 'p1', organizations: ['org-1', 'org-2'] });
    await change({ data: { resourceType: 'Task', id: 't2', organizations: ['org-2', 'org-3'] } });
    expect(seen).toEqual(['org-1 t1', 'org-2 t2']);
  });
});
