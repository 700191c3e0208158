import { isInfrastructureError, safeErrorText } from '@carerelay/persistence';
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
import type { DeliveredMessage, MessageBus, Subscription } from './message-bus';
import { consumerLag, eventHandlingSeconds, eventsConsumed } from './messaging.metrics';
import { DEFAULT_RETRY_POLICY, RetryPolicy, backoffMs } from './retry-policy';

export interface EventHandlingContext {
  /** The transaction in which the effect and the inbox row commit together. */
  manager: EntityManager;
  message: DeliveredMessage;
  attempt: number;
  /** Runs `fn` once the transaction has committed (not if it rolls back). */
  afterCommit?: (fn: () => void) => void;
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

  constructor(
    private readonly dataSource: DataSource,
    private readonly bus: MessageBus,
    private readonly options: IdempotentConsumerOptions,
  ) {
    this.retry = options.retry ?? DEFAULT_RETRY_POLICY;
    this.registry = options.registry ?? eventRegistry;
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
      handle: async (message, heartbeat) => {
        await this.process(message, heartbeat);
      },
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
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
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
    return outcome;
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
      await handler(event, { manager, message, attempt, afterCommit: (fn) => committed.push(fn) });
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
