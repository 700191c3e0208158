import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { Kafka, logLevel } from 'kafkajs';
import { TOPICS } from '@carerelay/contracts';
import { KafkajsMessageBus, whenBrokerSettled } from '@carerelay/messaging';
import {
  dropSchema,
  openServiceDataSource,
  ServiceDataSourceOptions,
} from '@carerelay/persistence';

/** Set by the jest global setup (libs/testing/src/global-setup.js) from the project's infra. */
export function testEnv(): { KAFKA_BROKERS: string; DATABASE_URL: string } {
  const { KAFKA_BROKERS, DATABASE_URL } = process.env;
  if (!KAFKA_BROKERS || !DATABASE_URL) {
    throw new Error('KAFKA_BROKERS and DATABASE_URL must be set (run the tests with `npm test`)');
  }
  return { KAFKA_BROKERS, DATABASE_URL };
}

export const uniqueName = (prefix: string): string =>
  `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;

/** A schema of its own for one test file, migrated like a service's, dropped afterwards. */
export async function openTestDataSource(
  prefix: string,
  options: Omit<ServiceDataSourceOptions, 'url' | 'schema'>,
): Promise<{ dataSource: DataSource; schema: string; drop: () => Promise<void> }> {
  const { DATABASE_URL } = testEnv();
  const schema = uniqueName(prefix).toLowerCase();
  const dataSource = await openServiceDataSource({
    ...options,
    url: DATABASE_URL,
    schema,
    poolSize: 5,
  });
  return {
    dataSource,
    schema,
    drop: async () => {
      if (dataSource.isInitialized) await dataSource.destroy();
      await dropSchema(DATABASE_URL, schema);
    },
  };
}

export function testKafka(clientId = uniqueName('test')): Kafka {
  return new Kafka({
    clientId,
    brokers: testEnv().KAFKA_BROKERS.split(','),
    logLevel: logLevel.NOTHING,
  });
}

export async function createTestTopics(names: string[], partitions = 3): Promise<void> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: names.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })),
    });
  } finally {
    await admin.disconnect();
  }
}

export async function deleteTestTopics(names: string[]): Promise<void> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics: names });
  } finally {
    await admin.disconnect();
  }
}

export async function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 20_000, intervalMs = 50, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export interface CollectedMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

/** Reads topics from the beginning in a throw-away group and keeps every message. */
export async function collectTopics(topics: string[]): Promise<{
  messages: CollectedMessage[];
  stop: () => Promise<void>;
}> {
  const consumer = testKafka().consumer({ groupId: uniqueName('collector') });
  const messages: CollectedMessage[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  const joined = new Promise<void>((resolve) =>
    consumer.on(consumer.events.GROUP_JOIN, () => resolve()),
  );
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(message.headers ?? {})) {
        if (value !== undefined) headers[name] = value.toString();
      }
      messages.push({
        topic,
        partition,
        offset: message.offset,
        key: message.key?.toString() ?? null,
        value: message.value?.toString() ?? null,
        headers,
      });
    },
  });
  await joined;
  return { messages, stop: () => consumer.disconnect() };
}

/**
 * Commits the current end of each topic as the group's position, so a service started with that
 * group afterwards reads only what is produced from now on (and misses none of it) instead of
 * every earlier test run's events.
 */
export async function startGroupAtLatest(groupId: string, topics: string[]): Promise<void> {
  // On a fresh broker the catalog's topics may not exist yet: made as the services make them.
  const catalog = Object.values(TOPICS).filter((topic) => topics.includes(topic.name));
  await new KafkajsMessageBus({
    clientId: uniqueName('test'),
    brokers: testEnv().KAFKA_BROKERS.split(','),
    logLevel: logLevel.NOTHING,
  }).ensureTopics(catalog);
  const admin = testKafka().admin();
  await admin.connect();
  try {
    for (const topic of topics) {
      const offsets = await whenBrokerSettled(() => admin.fetchTopicOffsets(topic));
      await admin.setOffsets({
        groupId,
        topic,
        partitions: offsets.map((p) => ({ partition: p.partition, offset: p.high })),
      });
    }
  } finally {
    await admin.disconnect();
  }
}
