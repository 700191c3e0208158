// Proves that kafkajs 2.2.4 works against the broker the project runs (infra/kafka/pom.xml):
// admin createTopics / describe, produce with acks=-1, consume in a group, commit offset+1,
// a rebalance between two consumers of one group. KAFKA_BROKERS comes from the jest globalSetup
// (libs/testing/src/global-setup.js -> infra/lib/infra.mjs ensureInfra).
import { randomUUID } from 'node:crypto';
import {
  Admin,
  Consumer,
  ConsumerGroupJoinEvent,
  Kafka,
  logCreator,
  logLevel,
  Partitioners,
  Producer,
} from 'kafkajs';

jest.setTimeout(120_000);

const PARTITIONS = 3;
const PER_PARTITION = 10;

type Seen = { key: string; partition: number; offset: string; member: 'a' | 'b' };

// kafkajs logs the expected "group is rebalancing" answers as errors: keep everything else.
const withoutRebalanceNoise: logCreator =
  () =>
  ({ namespace, label, log }) => {
    if (/rebalanc/i.test(`${log.message} ${String(log.error ?? '')}`)) return;
    console.warn(`[kafkajs ${label}] ${namespace} ${JSON.stringify(log)}`);
  };

async function waitFor(what: string, condition: () => boolean, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('Kafka broker with kafkajs 2.2.4', () => {
  const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
  const kafka = new Kafka({
    clientId: 'carerelay-kafka-broker-test',
    brokers,
    logLevel: logLevel.WARN,
    logCreator: withoutRebalanceNoise,
  });
  const suffix = randomUUID();
  const topic = `carerelay.test.broker.${suffix}`;
  const groupId = `carerelay-test-broker-${suffix}`;

  let admin: Admin;
  let producer: Producer;
  const consumers: Consumer[] = [];
  const seen: Seen[] = [];
  const joins: Record<'a' | 'b', ConsumerGroupJoinEvent['payload'][]> = { a: [], b: [] };

  const newConsumer = async (member: 'a' | 'b') => {
    const consumer = kafka.consumer({
      groupId,
      heartbeatInterval: 500,
      sessionTimeout: 10_000,
      rebalanceTimeout: 20_000,
    });
    consumers.push(consumer);
    consumer.on(consumer.events.GROUP_JOIN, (event) => joins[member].push(event.payload));
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic: t, partition, message }) => {
        seen.push({ key: String(message.key), partition, offset: message.offset, member });
        // The project's rule: commit the NEXT offset to read (offset + 1), never the bare offset.
        await consumer.commitOffsets([
          { topic: t, partition, offset: (BigInt(message.offset) + 1n).toString() },
        ]);
      },
    });
    return consumer;
  };

  const produceBatch = async (batch: number) => {
    const messages = [];
    for (let partition = 0; partition < PARTITIONS; partition += 1) {
      for (let i = 0; i < PER_PARTITION; i += 1) {
        messages.push({ key: `b${batch}-p${partition}-m${i}`, value: `{"n":${i}}`, partition });
      }
    }
    return producer.send({ topic, acks: -1, messages });
  };

  /** Committed offsets per partition (admin.fetchOffsets), once they reach `expected` or 10 s passed. */
  const committedOffsets = async (expected: string) => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const [result] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const offsets = Object.fromEntries(result.partitions.map((p) => [p.partition, p.offset]));
      if (Object.values(offsets).every((o) => o === expected) || Date.now() > deadline) {
        return offsets;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };

  beforeAll(async () => {
    if (brokers.length === 0) throw new Error('KAFKA_BROKERS is not set (jest globalSetup)');
    admin = kafka.admin();
    await admin.connect();
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
  });

  afterAll(async () => {
    await Promise.all(consumers.map((c) => c.disconnect()));
    await producer?.disconnect();
    if (admin) {
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    }
  });

  it('creates and describes a topic with 3 partitions (admin)', async () => {
    const created = await admin.createTopics({
      topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }],
      waitForLeaders: true,
    });
    expect(created).toBe(true);

    const cluster = await admin.describeCluster();
    expect(cluster.brokers).toHaveLength(1);
    expect(cluster.clusterId).toEqual(expect.any(String));

    expect(await admin.listTopics()).toContain(topic);
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(metadata.topics[0].partitions.map((p) => p.partitionId).sort()).toEqual([0, 1, 2]);

    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: 2 /* ConfigResourceTypes.TOPIC */, name: topic }],
    });
    expect(configs.resources[0].errorCode).toBe(0);
    expect(configs.resources[0].configEntries.map((e) => e.configName)).toContain('cleanup.policy');
  });

  it('produces with acks=-1 to every partition', async () => {
    const records = await produceBatch(1);
    expect(records.map((r) => r.partition).sort()).toEqual([0, 1, 2]);
    for (const record of records) expect(record.errorCode).toBe(0);
    const offsets = await admin.fetchTopicOffsets(topic);
    expect(offsets.map((o) => o.high)).toEqual(['10', '10', '10']);
  });

  it('consumes in a group and commits offset + 1', async () => {
    await newConsumer('a');
    await waitFor('30 messages on consumer a', () => seen.length >= PARTITIONS * PER_PARTITION);
    expect(joins.a.length).toBeGreaterThanOrEqual(1);
    expect(joins.a[joins.a.length - 1].memberAssignment[topic].sort()).toEqual([0, 1, 2]);

    // Offsets 0..9 were read in each partition: the committed position is 10, not 9.
    expect(await committedOffsets('10')).toEqual({ 0: '10', 1: '10', 2: '10' });
  });

  it('splits the partitions between two consumers of the group and consumes everything', async () => {
    const joinsOfA = joins.a.length;
    await newConsumer('b');
    await waitFor('consumer b to join', () => joins.b.length >= 1);
    await waitFor('consumer a to rejoin', () => joins.a.length > joinsOfA);

    const assignedA = joins.a[joins.a.length - 1].memberAssignment[topic] ?? [];
    const assignedB = joins.b[joins.b.length - 1].memberAssignment[topic] ?? [];
    expect(assignedA.length).toBeGreaterThan(0);
    expect(assignedB.length).toBeGreaterThan(0);
    expect(assignedA.filter((p) => assignedB.includes(p))).toEqual([]);
    expect([...assignedA, ...assignedB].sort()).toEqual([0, 1, 2]);

    const description = await admin.describeGroups([groupId]);
    expect(description.groups[0].members).toHaveLength(2);

    await produceBatch(2);
    const total = 2 * PARTITIONS * PER_PARTITION;
    await waitFor(`${total} messages`, () => seen.length >= total);
    await new Promise((resolve) => setTimeout(resolve, 500)); // would reveal duplicates

    const second = seen.filter((s) => s.key.startsWith('b2-'));
    expect(second).toHaveLength(PARTITIONS * PER_PARTITION);
    expect(new Set(second.map((s) => s.key)).size).toBe(PARTITIONS * PER_PARTITION);
    for (const s of second) {
      expect(s.member === 'a' ? assignedA : assignedB).toContain(s.partition);
    }
    expect(new Set(seen.map((s) => s.key)).size).toBe(total);
    expect(seen).toHaveLength(total); // nothing consumed twice, also across the rebalance

    expect(await committedOffsets('20')).toEqual({ 0: '20', 1: '20', 2: '20' });
  });
});
