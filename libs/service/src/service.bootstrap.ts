import type { DynamicModule, INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Logger } from 'pino';
import { loadConfigOrExit, type ConfigClass, type TlsFiles } from '@carerelay/config';
import type { CloudEvent } from '@carerelay/contracts';
import { applyServerTimeouts, useServiceHttp, type JsonBodyOptions } from '@carerelay/http';
import { connectEventConsumer, type BatchOptions } from '@carerelay/messaging';
import type { RequestActor } from '@carerelay/auth';
import {
  PinoNestLogger,
  consumerLogger,
  createServiceLogger,
  deadLetters,
  requestLogger,
} from '@carerelay/observability';
import {
  listenManagement,
  managementUrlOf,
  splitManagementPaths,
  type ManagementListener,
} from './management.listener';
import { httpsOptionsOf } from './tls.listener';

export interface StartServiceOptions {
  /** The `service` field of every log line. */
  name: string;
  logLevel: string;
  module: DynamicModule;
  port: number;
  host?: string;
  /**
   * The services' JSON body parser (run once the caller is authenticated) and problem+json
   * errors (libs/http); `false`: neither.
   */
  http?: JsonBodyOptions | false;
  /**
   * Nest's body parser (before authentication), when `http` is false; default none (services
   * whose HTTP API takes no bodies, and the FHIR API, which parses FHIR bodies itself).
   */
  nestBodyParser?: boolean;
  /** HTTPS on `port` with these files (tlsFilesOf); unset: plain HTTP. */
  tls?: TlsFiles;
  /** Health and metrics on their own listener (managementListenerOf); unset: on `port`. */
  management?: ManagementListener;
  /** The service's Kafka consumer (its @EventPattern handlers), if it consumes. */
  consumer?: {
    groupId: string;
    isTransient?: (error: unknown) => boolean;
    /** Events this service never handles: passed over before any SQL (may ask the app's providers). */
    ignores?: (event: CloudEvent, app: INestApplication) => boolean;
    /** Partitions handled at once (kafkajs; default 3). */
    partitionsConsumedConcurrently?: number;
    /** Batch mode: a partition's consecutive messages in one transaction (IdempotentConsumer). */
    batch?: BatchOptions;
  };
  /** Middleware and settings of this service, before init. */
  configure?: (app: NestExpressApplication, logger: Logger) => void;
}

/**
 * Builds and starts a service: pino logger, Nest app, HTTP conventions, the event consumer,
 * init (migrations, topics, pollers), then the consumer, server timeouts and listen.
 */
export async function startService(options: StartServiceOptions): Promise<NestExpressApplication> {
  const logger = createServiceLogger(options.name, options.logLevel);
  const http = options.http ?? {};
  // Read before anything starts: a bad certificate or key stops the start at once.
  const httpsOptions = options.tls ? httpsOptionsOf(options.tls) : undefined;
  const app = await NestFactory.create<NestExpressApplication>(options.module, {
    logger: new PinoNestLogger(logger),
    bodyParser: http === false && options.nestBodyParser === true,
    ...(httpsOptions ? { httpsOptions } : {}),
  });
  app.disable('x-powered-by');
  if (options.management) splitManagementPaths(app);
  // First of all: one JSON line per request with its caller (request.actor, set by the auth
  // guard) and its correlation id (traceparent), made current for all the request runs — the
  // trail of every request, refused ones included.
  app.use(
    requestLogger(logger, {
      identify: (request) => {
        const actor = (request as { actor?: RequestActor }).actor;
        return actor
          ? { client: actor.clientId, organization: actor.organizationId, role: actor.role }
          : undefined;
      },
    }),
  );
  if (http !== false) useServiceHttp(app, http);
  options.configure?.(app, logger);
  app.enableShutdownHooks();
  if (options.consumer) {
    connectEventConsumer(app, {
      groupId: options.consumer.groupId,
      onDeadLetter: (topic, error) => deadLetters.inc({ topic, error }),
      logger: consumerLogger(logger),
      isTransient: options.consumer.isTransient,
      ignores: options.consumer.ignores && ((event) => options.consumer!.ignores!(event, app)),
      partitionsConsumedConcurrently: options.consumer.partitionsConsumedConcurrently,
      batch: options.consumer.batch,
    });
  }
  // init first: it migrates the schema and provisions the topics the consumer subscribes to.
  await app.init();
  if (options.consumer) await app.startAllMicroservices();
  applyServerTimeouts(app.getHttpServer());
  await app.listen(options.port, options.host ?? '127.0.0.1');
  if (options.management) await listenManagement(app, options.management);
  return app;
}

/**
 * A service's main(): its environment validated (exit 78 when wrong), the service started, one
 * `listening` line; a failed start is logged and exits 1.
 */
export function runServiceMain<C extends { LOG_LEVEL: string }>(
  name: string,
  configClass: ConfigClass<C>,
  start: (config: C) => Promise<INestApplication | { baseUrl: string }>,
): void {
  const main = async (): Promise<void> => {
    const config = loadConfigOrExit(configClass);
    const started = await start(config);
    const app = 'baseUrl' in started ? (started as { app?: INestApplication }).app : started;
    const url = 'baseUrl' in started ? started.baseUrl : await started.getUrl();
    const management = app ? managementUrlOf(app) : undefined;
    createServiceLogger(name, config.LOG_LEVEL).info(
      management ? { url, management } : { url },
      'listening',
    );
  };
  main().catch((error: unknown) => {
    createServiceLogger(name).fatal({ err: error }, 'failed to start');
    process.exit(1);
  });
}
