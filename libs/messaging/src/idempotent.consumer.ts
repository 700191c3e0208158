import { GroupWriter, isInfrastructureError, safeErrorText } from '@carerelay/persistence';
import { DataSource, EntityManager } from 'typeorm';
import {
  CloudEvent,
  EventRegistry,
  KafkaRecord,
  dlqTopicOf,
  eventRegistry,
  fromKafkaRecord,
  headersAsText,
} from '@carerelay/contracts';
import {
  DEFAULT_MAX_BATCH_SIZE,
  NO_EFFECT,
  type DeliveredMessage,
  type HandleResult,
  type MessageBus,
  type Subscription,
} from './message-bus';
import { consumerLag, eventHandlingSeconds, eventsConsumed } from './messaging.metrics';
import { DEFAULT_RETRY_POLICY, RetryPolicy, backoffMs } from './retry-policy';

export interface EventHandlingContext {
  /** The transaction in which the effect and the inbox row commit together. */
  manager: EntityManager;
  message: DeliveredMessage;
  attempt: number;
  /** Runs `fn` once the transaction has committed (not if it rolls back). */
  afterCommit?: (fn: () => void) => void;
  /**
   * Hands `item` to `writer`, which writes every item handed to it in this transaction at once
   * (one multi-row statement for a whole batch), just before the transaction commits.
   */
  defer?: <T>(writer: BatchWriter<T>, item: T) => void;
}

/**
 * Writes the items that handlers of one transaction deferred to it, in the order they were
 * handed over. Writers run in the order they were first used, before the transaction commits.
 */
export interface BatchWriter<T> {
  write(manager: EntityManager, items: T[]): Promise<void>;
}

/** The writes deferred in one transaction, by writer. */
export class DeferredWrites {
  private readonly pending = new Map<BatchWriter<unknown>, unknown[]>();

  readonly add = <T>(writer: BatchWriter<T>, item: T): void => {
    const items = this.pending.get(writer as BatchWriter<unknown>);
    if (items) items.push(item);
    else this.pending.set(writer as BatchWriter<unknown>, [item]);
  };

  async flush(manager: EntityManager): Promise<void> {
    for (const [writer, items] of this.pending) await writer.write(manager, items);
    this.pending.clear();
  }
}

export type EventHandler = (event: CloudEvent, context: EventHandlingContext) => Promise<void>;

export interface IdempotentConsumerOptions {
  /** The service's schema, where its inbox lives. */
  schema: string;
  /** One consumer group per service; also the inbox's consumer name. */
  groupId: string;
  topics: string[];
  /** Which event types this consumer handles; other types on its topics are skipped. */
  handlerFor: (type: string) => EventHandler | undefined;
  retry?: RetryPolicy;
  registry?: EventRegistry;
  partitionsConsumedConcurrently?: number;
  logger?: ConsumerLogger;
  onDeadLetter?: (topic: string, reason: string) => void;
  /**
   * Errors that say a dependency is down (a FHIR server, the network) rather than that the
   * message is bad: those are retried with capped backoff for as long as they last, never
   * dead-lettered, so an outage does not turn every message into a dead letter.
   */
  isTransient?: (error: unknown) => boolean;
  /**
   * Events of a handled type that the handler would pass over anyway (e.g. changes of resources
   * it does not follow): skipped before any SQL — no transaction, no inbox row — since there is
   * no effect to apply once. Must decide from the event alone.
   */
  ignores?: (event: CloudEvent) => boolean;
  /**
   * Batch mode (opt-in): up to `maxMessages` consecutive messages of a partition are applied in
   * one transaction (one inbox statement for all, deferred writes flushed once), then one offset
   * commit. If that transaction fails, nothing of it stays and the batch is handled again message
   * by message (each with its retries and dead letter), so one bad message costs only itself.
   */
  batch?: BatchOptions;
}

export interface BatchOptions {
  maxMessages?: number;
  /**
   * The batches of the partitions consumed at once that are ready while this consumer's
   * transaction runs go together into its next one (group commit): one transaction at a time per
   * consumer instead of one per partition. Each partition's messages keep their order; each
   * batch's offsets are committed once that transaction has. If a joint transaction fails, each
   * batch is applied again alone, then message by message. For handlers that would otherwise
   * serialize on a lock of their own, and that may wait for other partitions' batches.
   */
  acrossPartitions?: boolean;
  /**
   * Lets the broker hold a fetch up to `gatherMs` until more messages have arrived, so that a
   * live trickle comes in fewer, larger batches (fewer transactions) at the price of up to that
   * much delay. For consumers nobody waits on within a second (read models, not the workflow).
   */
  gatherMs?: number;
}

export interface ConsumerLogger {
  info?(entry: Record<string, unknown>): void;
  warn?(message: string): void;
  error?(message: string): void;
}

/** Thrown by a handler when a dependency is unavailable; see `isTransient`. */
export class TransientError extends Error {
  override name = 'TransientError';
}

export class PoisonMessageError extends Error {
  override name = 'PoisonMessageError';
}

export type Outcome = 'applied' | 'duplicate' | 'skipped' | 'dead-lettered';

interface BatchEntry {
  message: DeliveredMessage;
  event?: CloudEvent;
  handler?: EventHandler;
  outcome?: Outcome;
}

/** Messages passed over (no inbox row, no effect) need no prompt offset commit. */
const resultOf = (outcomes: Outcome[]): HandleResult =>
  outcomes.every((outcome) => outcome === 'skipped') ? NO_EFFECT : undefined;

/**
 * Applies each event's effect exactly once: the inbox row (consumer, event id) and the effect
 * commit in one transaction, and the offset is committed only afterwards (by the bus). A failing
 * effect is retried with backoff a bounded number of times, then the message goes to the topic's
 * dead-letter twin with its original headers and the error, and the partition moves on.
 */
export class IdempotentConsumer {
  private subscription?: Subscription;
  private readonly retry: RetryPolicy;
  private readonly registry: EventRegistry;
  private readonly joint?: GroupWriter<BatchEntry>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly bus: MessageBus,
    private readonly options: IdempotentConsumerOptions,
  ) {
    this.retry = options.retry ?? DEFAULT_RETRY_POLICY;
    this.registry = options.registry ?? eventRegistry;
    if (options.batch?.acrossPartitions)
      this.joint = new GroupWriter(
        (entries) => this.applyBatch(entries),
        options.batch.maxMessages ?? DEFAULT_MAX_BATCH_SIZE,
        // A gathered fetch hands over several partitions' batches at once: one transaction for all.
        Boolean(options.batch.gatherMs),
      );
  }

  private lagTimer?: NodeJS.Timeout;

  async start(): Promise<Subscription> {
    this.stopping = false;
    this.lagTimer = setInterval(() => void this.reportLag(), 15_000);
    this.lagTimer.unref();
    this.subscription = await this.bus.subscribe({
      groupId: this.options.groupId,
      topics: this.options.topics,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently,
      handle: async (message, heartbeat) => resultOf([await this.process(message, heartbeat)]),
      ...(this.options.batch
        ? {
            maxBatchSize: this.options.batch.maxMessages,
            gatherMs: this.options.batch.gatherMs,
            handleBatch: async (messages: DeliveredMessage[], heartbeat: () => Promise<void>) =>
              resultOf(await this.processBatch(messages, heartbeat)),
          }
        : {}),
    });
    return this.subscription;
  }

  private async reportLag(): Promise<void> {
    try {
      const lag = await this.bus.lag(this.options.groupId, this.options.topics);
      for (const [topic, value] of Object.entries(lag)) {
        consumerLag.set({ consumer: this.options.groupId, topic }, value);
      }
    } catch {
      // the next round tries again; lag is a metric, not a duty
    }
  }

  private stopping = false;

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.lagTimer) clearInterval(this.lagTimer);
    await this.subscription?.close();
    this.subscription = undefined;
  }

  async process(
    message: DeliveredMessage,
    heartbeat: () => Promise<void> = async () => undefined,
  ): Promise<Outcome> {
    const started = process.hrtime.bigint();
    const { outcome, event } = await this.processMessage(message, heartbeat);
    this.record(message, outcome, event, Number(process.hrtime.bigint() - started) / 1e9);
    return outcome;
  }

  /**
   * Applies consecutive messages of one partition in one transaction (see `batch`): returns each
   * message's outcome, in order. Resolves only once every effect has committed.
   */
  async processBatch(
    messages: DeliveredMessage[],
    heartbeat: () => Promise<void> = async () => undefined,
  ): Promise<Outcome[]> {
    const started = process.hrtime.bigint();
    const entries: BatchEntry[] = [];
    for (const message of messages) {
      let event: CloudEvent;
      try {
        event = fromKafkaRecord(message);
        this.registry.validate(event.type, event.data);
      } catch (error) {
        await this.deadLetter(message, error, 1);
        entries.push({ message, outcome: 'dead-lettered' });
        continue;
      }
      const handler = this.options.handlerFor(event.type);
      if (!handler || this.options.ignores?.(event))
        entries.push({ message, event, outcome: 'skipped' });
      else entries.push({ message, event, handler });
    }
    const todo = entries.filter((e) => e.handler);
    if (todo.length > 0) {
      try {
        await this.applyJointly(todo);
      } catch (error) {
        // Nothing of the batch committed: each message on its own, so that a bad one is retried
        // and dead-lettered alone and the others are applied (once: the inbox decides again).
        this.options.logger?.warn?.(
          `${this.options.groupId}: batch of ${todo.length} failed, handling its messages one by one: ${safeErrorText(error)}`,
        );
        for (const entry of todo) {
          entry.outcome = (await this.processMessage(entry.message, heartbeat)).outcome;
        }
      }
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    for (const e of entries) this.record(e.message, e.outcome!, e.event, seconds);
    return entries.map((e) => e.outcome!);
  }

  /**
   * The batch's transaction, shared with other partitions' batches under `acrossPartitions`. A
   * shared transaction that failed is redone batch by batch, since which batch failed it is not
   * known (a batch that was alone in it gets that one more try too).
   */
  private async applyJointly(entries: BatchEntry[]): Promise<void> {
    if (!this.joint) return this.applyBatch(entries);
    try {
      await this.joint.writeMany(entries);
    } catch {
      await this.applyBatch(entries);
    }
  }

  private async applyBatch(entries: BatchEntry[]): Promise<void> {
    const committed: Array<() => void> = [];
    const outcomes = new Map<BatchEntry, Outcome>();
    await this.dataSource.transaction(async (manager) => {
      // A message delivered twice in one batch counts once: the first.
      const first = new Map<string, BatchEntry>();
      for (const entry of entries) {
        if (first.has(entry.event!.id)) outcomes.set(entry, 'duplicate');
        else first.set(entry.event!.id, entry);
      }
      const unique = [...first.values()];
      const inserted: Array<{ event_id: string }> = await manager.query(
        `INSERT INTO "${this.options.schema}".inbox (consumer, event_id, event_type, topic, partition, "offset")
         SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::bigint[])
         ON CONFLICT DO NOTHING RETURNING event_id`,
        [
          this.options.groupId,
          unique.map((e) => e.event!.id),
          unique.map((e) => e.event!.type),
          unique.map((e) => e.message.topic),
          unique.map((e) => e.message.partition),
          unique.map((e) => e.message.offset),
        ],
      );
      const fresh = new Set(inserted.map((row) => row.event_id));
      const deferred = new DeferredWrites();
      for (const entry of unique) {
        if (!fresh.has(entry.event!.id)) {
          outcomes.set(entry, 'duplicate');
          continue;
        }
        await entry.handler!(entry.event!, {
          manager,
          message: entry.message,
          attempt: 1,
          afterCommit: (fn) => committed.push(fn),
          defer: deferred.add,
        });
        outcomes.set(entry, 'applied');
      }
      await deferred.flush(manager);
    });
    for (const [entry, outcome] of outcomes) entry.outcome = outcome;
    for (const fn of committed) fn();
  }

  private record(
    message: DeliveredMessage,
    outcome: Outcome,
    event: CloudEvent | undefined,
    seconds: number,
  ): void {
    const consumer = this.options.groupId;
    eventsConsumed.inc({ consumer, type: event?.type ?? 'invalid', outcome });
    eventHandlingSeconds.observe({ consumer }, seconds);
    if (outcome !== 'skipped') {
      // One line per referral step in every service: grep a referral id across the logs.
      this.options.logger?.info?.({
        msg: `event ${outcome}`,
        consumer,
        type: event?.type,
        eventId: event?.id,
        subject: event?.subject,
        traceparent: event?.traceparent,
        topic: message.topic,
        partition: message.partition,
        offset: message.offset,
        ms: Math.round(seconds * 1000),
      });
    }
  }

  private async processMessage(
    message: DeliveredMessage,
    heartbeat: () => Promise<void>,
  ): Promise<{ outcome: Outcome; event?: CloudEvent }> {
    let event: CloudEvent;
    try {
      event = fromKafkaRecord(message);
      this.registry.validate(event.type, event.data);
    } catch (error) {
      // Invalid now means invalid forever: no retries.
      await this.deadLetter(message, error, 1);
      return { outcome: 'dead-lettered' };
    }
    const handler = this.options.handlerFor(event.type);
    if (!handler || this.options.ignores?.(event)) return { outcome: 'skipped', event };

    for (let attempt = 1, failures = 0; ; attempt++) {
      try {
        return { outcome: await this.applyOnce(event, handler, message, attempt), event };
      } catch (error) {
        const poison = error instanceof PoisonMessageError;
        const transient = !poison && this.isTransient(error);
        if (!transient) failures++;
        if (poison || failures >= this.retry.maxAttempts) {
          await this.deadLetter(message, error, attempt);
          return { outcome: 'dead-lettered', event };
        }
        this.options.logger?.warn?.(
          `${this.options.groupId}: ${event.type} ${event.id} failed (attempt ${attempt}): ${safeErrorText(error)}`,
        );
        await sleep(backoffMs(this.retry, Math.min(attempt, 10)));
        // Shutting down: leave the message uncommitted for the next consumer of the partition.
        if (this.stopping) throw new Error(`${this.options.groupId} stopping during retries`);
        await heartbeat();
      }
    }
  }

  private isTransient(error: unknown): boolean {
    return (
      error instanceof TransientError ||
      isInfrastructureError(error) ||
      (this.options.isTransient?.(error) ?? false)
    );
  }

  private async applyOnce(
    event: CloudEvent,
    handler: EventHandler,
    message: DeliveredMessage,
    attempt: number,
  ): Promise<Outcome> {
    const committed: Array<() => void> = [];
    const outcome = await this.dataSource.transaction(async (manager): Promise<Outcome> => {
      const inserted: unknown[] = await manager.query(
        `INSERT INTO "${this.options.schema}".inbox (consumer, event_id, event_type, topic, partition, "offset")
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING event_id`,
        [
          this.options.groupId,
          event.id,
          event.type,
          message.topic,
          message.partition,
          message.offset,
        ],
      );
      if (inserted.length === 0) return 'duplicate';
      const deferred = new DeferredWrites();
      await handler(event, {
        manager,
        message,
        attempt,
        afterCommit: (fn) => committed.push(fn),
        defer: deferred.add,
      });
      await deferred.flush(manager);
      return 'applied';
    });
    for (const fn of committed) fn();
    return outcome;
  }

  private async deadLetter(
    message: DeliveredMessage,
    failure: unknown,
    attempts: number,
  ): Promise<void> {
    const error = asError(failure);
    const original = headersAsText(message);
    const record: KafkaRecord & { topic: string } = {
      topic: dlqTopicOf(message.topic),
      key: message.key?.toString() ?? '',
      value: message.value?.toString() ?? '',
      headers: {
        ...original,
        dlq_error: error.message.slice(0, 2000),
        dlq_error_type: error.name,
        dlq_attempts: String(attempts),
        dlq_consumer: this.options.groupId,
        dlq_original_topic: message.topic,
        dlq_original_partition: String(message.partition),
        dlq_original_offset: message.offset,
        dlq_failed_at: new Date().toISOString(),
      },
    };
    // If this publish fails the message is not committed, so it is not lost either.
    await this.bus.publish([record]);
    this.options.logger?.error?.(
      `${this.options.groupId}: ${message.topic}/${message.partition}@${message.offset} dead-lettered after ${attempts} attempt(s): ${safeErrorText(error)}`,
    );
    this.options.onDeadLetter?.(message.topic, error.name);
  }
}

function asError(failure: unknown): Error {
  if (failure instanceof Error) return failure;
  const error = new Error(
    typeof failure === 'string' ? failure : (JSON.stringify(failure) ?? String(failure)),
  );
  error.name = 'NonErrorThrown';
  return error;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
