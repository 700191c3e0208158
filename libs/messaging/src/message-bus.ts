import type { KafkaRecord, RawKafkaMessage, TopicDefinition } from '@carerelay/contracts';

/**
 * The project's own view of the broker. Everything above this interface is client-agnostic; the
 * kafkajs implementation lives in kafkajs-message-bus.ts, so the client can be swapped.
 */
export interface MessageBus {
  /** Publishes and resolves once every record is acknowledged by all in-sync replicas (acks=all). */
  publish(records: Array<KafkaRecord & { topic: string }>): Promise<void>;
  subscribe(options: SubscriptionOptions): Promise<Subscription>;
  ensureTopics(topics: TopicDefinition[]): Promise<void>;
  /** Asks the cluster for its brokers: a readiness probe. */
  describeCluster(): Promise<{ brokers: number; controller: number | null }>;
  /** Per topic: messages after the group's committed offsets (all of them when none). */
  lag(groupId: string, topics: string[]): Promise<Record<string, number>>;
  close(): Promise<void>;
}

export interface DeliveredMessage extends RawKafkaMessage {
  topic: string;
  partition: number;
  offset: string;
}

export interface SubscriptionOptions {
  groupId: string;
  topics: string[];
  /** Called once per message; the subscription commits offset + 1 only after it resolves. */
  handle: (message: DeliveredMessage, heartbeat: () => Promise<void>) => Promise<void>;
  /**
   * When set, called instead of `handle` with up to `maxBatchSize` consecutive messages of one
   * partition; the subscription commits the last offset + 1 only after it resolves. A rejection
   * commits nothing of the batch: the messages are delivered again.
   */
  handleBatch?: (messages: DeliveredMessage[], heartbeat: () => Promise<void>) => Promise<void>;
  maxBatchSize?: number;
  fromBeginning?: boolean;
  partitionsConsumedConcurrently?: number;
  sessionTimeoutMs?: number;
}

export interface Subscription {
  readonly groupId: string;
  close(): Promise<void>;
  /** Resolves once the consumer has joined its group and received partitions (or none). */
  ready(): Promise<void>;
}
