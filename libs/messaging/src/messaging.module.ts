import {
  DynamicModule,
  Inject,
  Injectable,
  Module,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  OnModuleDestroy,
} from '@nestjs/common';
import { DataSource } from 'typeorm';
import { KafkajsMessageBus } from './kafkajs-message-bus';
import type { MessageBus } from './message-bus';
import { OutboxRelay } from './outbox.relay';
import { OutboxWriter } from './outbox.writer';
import { provisionTopics } from './topic-provisioner';

export const MESSAGE_BUS = Symbol('MESSAGE_BUS');
export const MESSAGING_OPTIONS = Symbol('MESSAGING_OPTIONS');

export interface MessagingModuleOptions {
  /** e.g. referral-service: the CloudEvents source, the Kafka client id and consumer group. */
  serviceName: string;
  /** The service's database schema (its outbox and inbox live there). */
  schema: string;
  brokers: string[];
  outboxPollMs?: number;
  /** Off only for tools that publish nothing. */
  runOutboxRelay?: boolean;
  /**
   * Connections of the outbox relay's own pool (default 1: it runs one transaction at a time);
   * 0 shares the service's pool, where it queues behind requests.
   */
  outboxRelayPoolSize?: number;
}

@Injectable()
class MessagingLifecycle implements OnApplicationBootstrap, OnModuleDestroy, OnApplicationShutdown {
  constructor(
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    @Inject(MESSAGING_OPTIONS) private readonly options: MessagingModuleOptions,
    private readonly relay: OutboxRelay,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await provisionTopics(this.bus);
    if (this.options.runOutboxRelay !== false) await this.relay.start();
  }

  // Module destruction comes before any application-shutdown hook, so the relay is stopped
  // while the database pool (closed by TypeORM at application shutdown) still works.
  async onModuleDestroy(): Promise<void> {
    await this.relay.stop();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.bus.close();
  }
}

@Module({})
export class MessagingModule {
  static forRoot(options: MessagingModuleOptions): DynamicModule {
    return {
      module: MessagingModule,
      global: true,
      providers: [
        { provide: MESSAGING_OPTIONS, useValue: options },
        {
          provide: MESSAGE_BUS,
          useFactory: () =>
            new KafkajsMessageBus({
              brokers: options.brokers,
              clientId: `${options.serviceName}-${process.pid}`,
            }),
        },
        {
          provide: OutboxWriter,
          useFactory: () => new OutboxWriter(options.schema, `/carerelay/${options.serviceName}`),
        },
        {
          provide: OutboxRelay,
          inject: [DataSource, MESSAGE_BUS],
          useFactory: (dataSource: DataSource, bus: MessageBus) =>
            new OutboxRelay(dataSource, bus, {
              schema: options.schema,
              pollMs: options.outboxPollMs,
              logger: console,
              poolSize: options.outboxRelayPoolSize ?? 1,
            }),
        },
        MessagingLifecycle,
      ],
      exports: [MESSAGE_BUS, MESSAGING_OPTIONS, OutboxWriter, OutboxRelay],
    };
  }
}
