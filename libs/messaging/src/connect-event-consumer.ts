import { INestApplication } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { KafkaEventsServer } from './kafka-events.server';
import type { MessageBus } from './message-bus';
import { MESSAGE_BUS, MESSAGING_OPTIONS, MessagingModuleOptions } from './messaging.module';
import { RetryPolicy } from './retry-policy';

/**
 * Attaches the service's event consumer (one consumer group per service, named after it) to a
 * Nest application; call `app.startAllMicroservices()` afterwards.
 */
export function connectEventConsumer(
  app: INestApplication,
  overrides: {
    retry?: RetryPolicy;
    groupId?: string;
    onDeadLetter?: (topic: string, error: string) => void;
    isTransient?: (error: unknown) => boolean;
  } = {},
): KafkaEventsServer {
  const options = app.get<MessagingModuleOptions>(MESSAGING_OPTIONS);
  const server = new KafkaEventsServer(app.get(DataSource), app.get<MessageBus>(MESSAGE_BUS), {
    schema: options.schema,
    groupId: overrides.groupId ?? options.serviceName,
    retry: overrides.retry,
    onDeadLetter: overrides.onDeadLetter,
    isTransient: overrides.isTransient,
    logger: console,
  });
  app.connectMicroservice({ strategy: server }, { inheritAppConfig: true });
  return server;
}
