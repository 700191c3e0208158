import { Catch, INestApplication, RpcExceptionFilter } from '@nestjs/common';
import { NestMicroservice } from '@nestjs/microservices';
import { Observable, throwError } from 'rxjs';
import { DataSource } from 'typeorm';
import type { CloudEvent } from '@carerelay/contracts';
import type { BatchOptions, ConsumerLogger } from './idempotent.consumer';
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
    ignores?: (event: CloudEvent) => boolean;
    partitionsConsumedConcurrently?: number;
    batch?: BatchOptions;
    logger?: ConsumerLogger;
  } = {},
): KafkaEventsServer {
  const options = app.get<MessagingModuleOptions>(MESSAGING_OPTIONS);
  const server = new KafkaEventsServer(app.get(DataSource), app.get<MessageBus>(MESSAGE_BUS), {
    schema: options.schema,
    groupId: overrides.groupId ?? options.serviceName,
    retry: overrides.retry,
    onDeadLetter: overrides.onDeadLetter,
    isTransient: overrides.isTransient,
    ignores: overrides.ignores,
    partitionsConsumedConcurrently: overrides.partitionsConsumedConcurrently,
    batch: overrides.batch,
    logger: overrides.logger ?? console,
  });
  // Listeners are bound at connect time unless deferred, and filters must be set before that;
  // the app's own init hooks have run (or will), so the microservice must not run them again.
  const microservice = app.connectMicroservice(
    { strategy: server },
    { deferInitialization: true },
  ) as unknown as NestMicroservice;
  microservice.useGlobalFilters(new PassOriginalErrorFilter());
  microservice.registerListeners();
  microservice.setIsInitialized(true);
  microservice.setIsInitHookCalled(true);
  return server;
}

/**
 * Nest's default RPC filter turns every unknown error into "Internal server error"; the consumer
 * needs the original to tell an outage (retry) from a bad message (dead letter) and to record it.
 */
@Catch()
class PassOriginalErrorFilter implements RpcExceptionFilter<unknown> {
  catch(exception: unknown): Observable<never> {
    return throwError(() => exception);
  }
}
