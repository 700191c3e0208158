import {
  Admin,
  Consumer,
  Kafka,
  KafkaConfig,
  KafkaMessage,
  logLevel,
  Partitioners,
  Producer,
} from 'kafkajs';
import type { KafkaRecord, TopicDefinition } from '@carerelay/contracts';
import {
  DEFAULT_MAX_BATCH_SIZE,
  NO_EFFECT,
  type DeliveredMessage,
  type HandleResult,
  type MessageBus,
  type Subscription,
  type SubscriptionOptions,
} from './message-bus';
import { whenBrokerSettled } from './kafka-settling';
import { PendingCommits } from './pending-commits';

export interface KafkajsBusOptions {
  brokers: string[];
  clientId: string;
  logLevel?: logLevel;
}

/** How long a consumer that stopped for good is left before a new one takes its place. */
const CONSUMER_REPLACE_DELAY_MS = 2_000;
const DEFERRED_COMMIT_MS = 5_000;
/**
 * How long the offset commit after an effect may wait for others. Each commit is a request to
 * the broker and a write to its offsets log; a consumer that applies a few events a second in
 * several partitions sent one per event. Reading an event again after a crash costs an inbox
 * lookup (every consumer is idempotent), so nothing is gained by committing sooner.
 */
const EFFECT_COMMIT_MS = 1_000;

/** Enough bytes that a fetch under live load waits its `gatherMs` (a change event is ~1-3 kB). */
const GATHER_MIN_BYTES = 1024 * 1024;

const delivered = (topic: string, partition: number, message: KafkaMessage): DeliveredMessage => ({
  topic,
  partition,
  offset: message.offset,
  key: message.key,
  value: message.value,
  headers: message.headers,
});

export class KafkajsMessageBus implements MessageBus {
  private readonly kafka: Kafka;
  private producer?: Promise<Producer>;
  private admin?: SharedAdmin;
  /** Each running consumer, with the commits it has put off. */
  private readonly consumers = new Map<Consumer, PendingCommits>();

  constructor(options: KafkajsBusOptions) {
    const config: KafkaConfig = {
      clientId: options.clientId,
      brokers: options.brokers,
      logLevel: options.logLevel ?? logLevel.WARN,
      retry: { initialRetryTime: 100, retries: 8 },
    };
    this.kafka = new Kafka(config);
  }

  private connectedProducer(): Promise<Producer> {
    if (!this.producer) {
      const producer = this.kafka.producer({
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      this.producer = producer.connect().then(
        () => producer,
        (error: unknown) => {
          this.producer = undefined;
          throw error;
        },
      );
    }
    return this.producer;
  }

  async publish(records: Array<KafkaRecord & { topic: string }>): Promise<void> {
    if (records.length === 0) return;
    const producer = await this.connectedProducer();
    const byTopic = new Map<string, KafkaRecord[]>();
    for (const { topic, ...record } of records) {
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), record]);
    }
    await producer.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
  }

  async subscribe(options: SubscriptionOptions): Promise<Subscription> {
    let joined: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (joined = resolve));
    let closed = false;
    let consumer: Consumer;
    // kafkajs restarts a crashed consumer only after errors it deems retriable; after any other
    // (a TypeError, a non-retriable protocol error) the consumer stays stopped and the service
    // would read nothing more while looking healthy. Such a consumer is replaced here.
    const replace = async (dead: Consumer, why: string): Promise<void> => {
      if (closed) return;
      console.error(
        `kafka consumer ${options.groupId} stopped for good (${why}); a new one in ${CONSUMER_REPLACE_DELAY_MS} ms`,
      );
      await new Promise((resolve) => setTimeout(resolve, CONSUMER_REPLACE_DELAY_MS));
      if (closed) return;
      this.consumers.get(dead)?.stop();
      this.consumers.delete(dead);
      await dead.disconnect().catch(() => undefined);
      try {
        consumer = await this.runConsumer(options, () => undefined, replace);
      } catch (error) {
        await replace(dead, (error as Error).name);
      }
    };
    consumer = await this.runConsumer(options, () => joined(), replace);
    return {
      groupId: options.groupId,
      ready: () => ready,
      close: async () => {
        closed = true;
        const pending = this.consumers.get(consumer);
        await pending?.close();
        this.consumers.delete(consumer);
        await consumer.disconnect();
      },
    };
  }

  private async runConsumer(
    options: SubscriptionOptions,
    onJoin: () => void,
    onDead: (consumer: Consumer, why: string) => Promise<void>,
  ): Promise<Consumer> {
    const consumer = this.kafka.consumer({
      groupId: options.groupId,
      allowAutoTopicCreation: false,
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: 3_000,
      retry: { initialRetryTime: 200, retries: 10 },
      ...(options.gatherMs
        ? { maxWaitTimeInMs: options.gatherMs, minBytes: GATHER_MIN_BYTES }
        : {}),
    });
    const pending = new PendingCommits(
      (offsets) => consumer.commitOffsets(offsets),
      EFFECT_COMMIT_MS,
    );
    const deferredMs = options.deferredCommitMs ?? DEFERRED_COMMIT_MS;
    this.consumers.set(consumer, pending);
    // The generation that read them may still commit while the group prepares to rebalance.
    consumer.on(consumer.events.REBALANCING, () => void pending.flush());
    consumer.on(consumer.events.GROUP_JOIN, () => {
      pending.forget();
      onJoin();
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) void onDead(consumer, payload.error.name);
    });
    try {
      await consumer.connect();
      await consumer.subscribe({
        topics: options.topics,
        fromBeginning: options.fromBeginning ?? true,
      });
    } catch (error) {
      this.consumers.delete(consumer);
      await consumer.disconnect().catch(() => undefined);
      throw error;
    }
    const handleBatch = options.handleBatch;
    const commitAfter = (
      topic: string,
      partition: number,
      offset: string,
      result: HandleResult,
    ) => {
      // The next offset to read, only after the effect has committed.
      const next = (BigInt(offset) + 1n).toString();
      pending.put(topic, partition, next, result === NO_EFFECT ? deferredMs : EFFECT_COMMIT_MS);
    };
    // A handler's error may stop this consumer for good (see subscribe), after which it can commit
    // nothing: what was handled before the failing message is committed first.
    const handled = async <T>(handling: Promise<T>): Promise<T> => {
      try {
        return await handling;
      } catch (error) {
        await pending.flush();
        throw error;
      }
    };
    if (handleBatch) {
      const size = Math.max(1, options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE);
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 3,
        eachBatch: async ({ batch, heartbeat, resolveOffset, isRunning, isStale }) => {
          const { topic, partition } = batch;
          for (let i = 0; i < batch.messages.length; i += size) {
            // Rebalanced or stopping: what is left is read again from the committed offset.
            if (!isRunning() || isStale()) return;
            const chunk = batch.messages
              .slice(i, i + size)
              .map((message) => delivered(topic, partition, message));
            const result = await handled(handleBatch(chunk, heartbeat));
            const last = chunk[chunk.length - 1].offset;
            commitAfter(topic, partition, last, result);
            resolveOffset(last);
            await heartbeat();
          }
        },
      });
    } else {
      await consumer.run({
        autoCommit: false,
        partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 3,
        eachMessage: async ({ topic, partition, message, heartbeat }) => {
          const result = await handled(
            options.handle(delivered(topic, partition, message), heartbeat),
          );
          commitAfter(topic, partition, message.offset, result);
        },
      });
    }
    return consumer;
  }

  async ensureTopics(topics: TopicDefinition[]): Promise<void> {
    const admin: Admin = this.kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const missing = topics.filter((topic) => !existing.has(topic.name));
      if (missing.length > 0) {
        // Another service may be creating the same topics right now (false: they exist).
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((topic) => ({
            topic: topic.name,
            numPartitions: topic.partitions,
            replicationFactor: -1,
            configEntries: topic.retentionMs
              ? [{ name: 'retention.ms', value: String(topic.retentionMs) }]
              : [],
          })),
        });
      }
      // Topics created by an older catalog with fewer partitions get more; never fewer.
      const metadata = await whenBrokerSettled(() =>
        admin.fetchTopicMetadata({ topics: topics.map((t) => t.name) }),
      );
      const grow = topics.flatMap((topic) => {
        const current = metadata.topics.find((t) => t.name === topic.name)?.partitions.length ?? 0;
        return current < topic.partitions ? [{ topic: topic.name, count: topic.partitions }] : [];
      });
      if (grow.length > 0) await admin.createPartitions({ topicPartitions: grow });
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * Runs `work` on the bus's one admin client, connected on first use and kept: the health
   * checks and every consumer's lag report use it, instead of a connection each. After an error
   * it is dropped (the next call connects a new one) and disconnected once no call in flight
   * uses it, so that a failed lag report does not fail a health check sharing it.
   */
  private async withAdmin<T>(work: (admin: Admin) => Promise<T>): Promise<T> {
    if (!this.admin) {
      const client = this.kafka.admin({ retry: { retries: 1 } });
      this.admin = { client, connected: client.connect(), users: 0 };
    }
    const shared = this.admin;
    shared.users += 1;
    try {
      await shared.connected;
      return await work(shared.client);
    } catch (error) {
      if (this.admin === shared) this.admin = undefined;
      throw error;
    } finally {
      shared.users -= 1;
      // Dropped (after an error or by close()): the last call out disconnects it.
      if (this.admin !== shared && shared.users === 0)
        await shared.client.disconnect().catch(() => {});
    }
  }

  describeCluster(): Promise<{ brokers: number; controller: number | null }> {
    return this.withAdmin(async (admin) => {
      const cluster = await admin.describeCluster();
      return { brokers: cluster.brokers.length, controller: cluster.controller };
    });
  }

  lag(groupId: string, topics: string[]): Promise<Record<string, number>> {
    return this.withAdmin(async (admin) => {
      const committed = await admin.fetchOffsets({ groupId, topics });
      const result: Record<string, number> = {};
      for (const topic of topics) {
        const ends = await admin.fetchTopicOffsets(topic);
        const positions = committed.find((c) => c.topic === topic)?.partitions ?? [];
        result[topic] = ends.reduce((sum, end) => {
          const position = Number(
            positions.find((p) => p.partition === end.partition)?.offset ?? -1,
          );
          return sum + Math.max(0, Number(end.high) - (position < 0 ? Number(end.low) : position));
        }, 0);
      }
      return result;
    });
  }

  async close(): Promise<void> {
    await Promise.allSettled(
      [...this.consumers].map(async ([consumer, pending]) => {
        await pending.close();
        await consumer.disconnect();
      }),
    );
    this.consumers.clear();
    const producer = this.producer;
    this.producer = undefined;
    if (producer) await (await producer).disconnect();
    const admin = this.admin;
    this.admin = undefined;
    if (admin) await admin.client.disconnect().catch(() => {});
  }
}

/** The bus's one admin client and how many calls are using it. */
interface SharedAdmin {
  client: Admin;
  connected: Promise<void>;
  users: number;
}
