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

/** Messages per batch handed to `handleBatch` when `maxBatchSize` is not set. */
export const DEFAULT_MAX_BATCH_SIZE = 500;

export interface SubscriptionOptions {
  groupId: string;
  topics: string[];
  /**
   * Called once per message; the subscription commits offset + 1 only after it resolves, within
   * a second, with the other partitions' offsets read meanwhile in one request. A message it
   * answers NO_EFFECT for (nothing to apply) may wait longer: the next commit covers it, or a
   * commit within `deferredCommitMs`. What was read but not committed when the process dies is
   * delivered again.
   */
  handle: (message: DeliveredMessage, heartbeat: () => Promise<void>) => Promise<HandleResult>;
  /**
   * When set, called instead of `handle` with up to `maxBatchSize` consecutive messages of one
   * partition; the subscription commits the last offset + 1 only after it resolves (put off as
   * above when it answers NO_EFFECT for the whole batch). A rejection commits nothing of the
   * batch: the messages are delivered again.
   */
  handleBatch?: (
    messages: DeliveredMessage[],
    heartbeat: () => Promise<void>,
  ) => Promise<HandleResult>;
  maxBatchSize?: number;
  /**
   * How long the broker may hold a fetch to gather more messages (default: answered with the
   * first message). Set for consumers that would rather take many messages at once a moment later
   * than each as it comes.
   */
  gatherMs?: number;
  /** How long the commit of messages without effect may wait for a later one (default 5 s). */
  deferredCommitMs?: number;
  fromBeginning?: boolean;
  partitionsConsumedConcurrently?: number;
  sessionTimeoutMs?: number;
}

/**
 * What handling changed: NO_EFFECT for a message (or batch) that applied nothing, whose offset
 * commit may wait, since reading it again after a crash is harmless.
 */
export const NO_EFFECT = 'no-effect';
export type HandleResult = void | typeof NO_EFFECT;

export interface Subscription {
  readonly groupId: string;
  close(): Promise<void>;
  /** Resolves once the consumer has joined its group and received partitions (or none). */
  ready(): Promise<void>;
}
