import { BaseRpcContext, CustomTransportStrategy, Server } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import { DataSource, EntityManager } from 'typeorm';
import { CloudEvent, eventRegistry } from '@carerelay/contracts';
import type { DeliveredMessage, MessageBus } from './message-bus';
import {
  BatchWriter,
  EventHandler,
  EventHandlingContext,
  IdempotentConsumer,
  IdempotentConsumerOptions,
} from './idempotent.consumer';

/** What a Nest `@EventPattern` handler receives as `@Ctx()`. */
export class EventContext extends BaseRpcContext<[EventHandlingContext]> {
  get manager(): EntityManager {
    return this.args[0].manager;
  }
  get message(): DeliveredMessage {
    return this.args[0].message;
  }
  get attempt(): number {
    return this.args[0].attempt;
  }
  /** Runs `fn` once the inbox transaction has committed. */
  afterCommit(fn: () => void): void {
    const register = this.args[0].afterCommit;
    if (register) register(fn);
    else fn();
  }
  /**
   * Hands `item` to `writer`, which writes all the items of the transaction at once just before
   * it commits (a whole batch's in one statement when the consumer runs in batch mode).
   */
  async defer<T>(writer: BatchWriter<T>, item: T): Promise<void> {
    const defer = this.args[0].defer;
    if (defer) defer(writer, item);
    else await writer.write(this.manager, [item]);
  }
}

export type KafkaEventsServerOptions = Omit<IdempotentConsumerOptions, 'handlerFor' | 'topics'> & {
  /** Defaults to the topics of the event types the handlers subscribe to. */
  topics?: string[];
};

/**
 * A Nest microservice transport for CareRelay events: handlers declared with
 * `@EventPattern(<CloudEvents type>)` receive `(@Payload() event: CloudEvent, @Ctx() ctx: EventContext)`
 * and run inside the inbox transaction of an IdempotentConsumer (bounded retries, DLQ, commit
 * after the effect). Unlike Nest's built-in Kafka transport, a failing handler never blocks a
 * partition forever.
 */
export class KafkaEventsServer extends Server implements CustomTransportStrategy {
  private consumer?: IdempotentConsumer;

  constructor(
    private readonly dataSource: DataSource,
    private readonly bus: MessageBus,
    private readonly options: KafkaEventsServerOptions,
  ) {
    super();
  }

  async listen(callback: (error?: unknown) => void): Promise<void> {
    try {
      const types = [...this.getHandlers().keys()];
      const topics = this.options.topics ?? [
        ...new Set(types.map((type) => eventRegistry.get(type).topic)),
      ];
      // Looked up once per type: Nest's pattern lookup serializes the pattern on every call, and
      // every message asks (those passed over too).
      const handlers = new Map<string, EventHandler | undefined>();
      const handlerOf = (type: string): EventHandler | undefined => {
        const handler = this.getHandlerByPattern(type);
        if (!handler) return undefined;
        return async (event: CloudEvent, context: EventHandlingContext) => {
          const result = await handler(event, new EventContext([context]));
          await lastValueFrom(this.transformToObservable(result), { defaultValue: undefined });
        };
      };
      this.consumer = new IdempotentConsumer(this.dataSource, this.bus, {
        ...this.options,
        topics,
        handlerFor: (type) => {
          if (!handlers.has(type)) handlers.set(type, handlerOf(type));
          return handlers.get(type);
        },
      });
      await this.consumer.start();
      callback();
    } catch (error) {
      callback(error);
    }
  }

  async close(): Promise<void> {
    await this.consumer?.stop();
  }

  on(): never {
    throw new Error('KafkaEventsServer does not emit transport events');
  }

  unwrap<T>(): T {
    return this.consumer as T;
  }
}
