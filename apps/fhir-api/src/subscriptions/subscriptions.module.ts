import {
  DynamicModule,
  Inject,
  Injectable,
  MiddlewareConsumer,
  Module,
  NestModule,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { NextFunction, Request, Response } from 'express';
import { DataSource } from 'typeorm';
import {
  MESSAGE_BUS,
  MESSAGING_OPTIONS,
  type MessageBus,
  type MessagingModuleOptions,
} from '@carerelay/messaging';
import { fhirBodyMiddleware } from '../http/fhir-body.middleware';
import { ResourceStore } from '../store/resource.store';
import { SubscriptionEngine } from './subscription.engine';
import { SubscriptionStore } from './subscription.store';
import {
  SUBSCRIPTION_ENDPOINTS,
  SUBSCRIPTIONS_BASE_URL,
  SubscriptionsController,
} from './subscriptions.controller';
import { endpointPolicy, type EndpointPolicy } from './endpoint-policy';
import { FHIR_API_CONFIG } from '../app.module';
import { SUBSCRIPTIONS_SERVED } from '../capability';
import type { FhirApiConfig } from '../fhir-api.config';
import { SubscriptionTables1732700000000 } from './subscription-tables.migration';

/** Run in the fhir-api's schema, after its own migrations (FhirApiModuleOptions.migrations). */
export const SUBSCRIPTION_MIGRATIONS = [SubscriptionTables1732700000000];

export interface SubscriptionsOptions {
  /** The FHIR base as clients see it (a function: with port 0 it is known after listen). */
  baseUrl: () => string;
  /** Consumer group of the fhir.changes.v1 consumer (default fhir-api-subscriptions). */
  groupId?: string;
  /** Delivery attempts of one event before it is marked failed (default 6). */
  maxAttempts?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  pollMs?: number;
  maxBodyBytes?: number;
  /**
   * Hosts notifications may reach over http and at internal addresses; default: the app's
   * SUBSCRIPTION_ALLOWED_HTTP_HOSTS (endpoint-policy.ts).
   */
  allowedHttpHosts?: readonly string[];
}

const OPTIONS = Symbol('SUBSCRIPTIONS_OPTIONS');

@Injectable()
class SubscriptionsLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(private readonly engine: SubscriptionEngine) {}
  async onApplicationBootstrap(): Promise<void> {
    await this.engine.start();
  }
  async onApplicationShutdown(): Promise<void> {
    await this.engine.stop();
  }
}

/**
 * The Subscriptions Backport for the FHIR API. Import it through FhirApiModuleOptions.imports
 * (before the generic `/fhir/:type` routes) with SUBSCRIPTION_MIGRATIONS in `migrations`.
 */
@Module({})
export class SubscriptionsModule implements NestModule {
  constructor(@Inject(OPTIONS) private readonly options: SubscriptionsOptions) {}

  static register(options: SubscriptionsOptions): DynamicModule {
    return {
      module: SubscriptionsModule,
      controllers: [SubscriptionsController],
      providers: [
        { provide: OPTIONS, useValue: options },
        { provide: SUBSCRIPTIONS_SERVED, useValue: true },
        { provide: SUBSCRIPTIONS_BASE_URL, useValue: options.baseUrl },
        {
          provide: SUBSCRIPTION_ENDPOINTS,
          inject: [FHIR_API_CONFIG],
          useFactory: (config: FhirApiConfig) =>
            endpointPolicy(options.allowedHttpHosts ?? config.SUBSCRIPTION_ALLOWED_HTTP_HOSTS),
        },
        {
          provide: SubscriptionStore,
          inject: [DataSource, MESSAGING_OPTIONS],
          useFactory: (ds: DataSource, messaging: MessagingModuleOptions) =>
            new SubscriptionStore(ds, messaging.schema),
        },
        {
          provide: SubscriptionEngine,
          inject: [SubscriptionStore, MESSAGE_BUS, ModuleRef, SUBSCRIPTION_ENDPOINTS],
          useFactory: (
            store: SubscriptionStore,
            bus: MessageBus,
            moduleRef: ModuleRef,
            endpoints: EndpointPolicy,
          ) => {
            let resources: ResourceStore | undefined;
            const resolve = (): ResourceStore =>
              (resources ??= moduleRef.get(ResourceStore, { strict: false }) as ResourceStore);
            return new SubscriptionEngine(store, resolve, bus, options.baseUrl, {
              groupId: options.groupId ?? 'fhir-api-subscriptions',
              pollMs: options.pollMs ?? 200,
              concurrency: 8,
              retry: {
                maxAttempts: options.maxAttempts ?? 6,
                initialBackoffMs: options.initialBackoffMs ?? 500,
                maxBackoffMs: options.maxBackoffMs ?? 60_000,
              },
              endpoints,
              logger: { warn: console.warn, error: console.error },
            });
          },
        },
        SubscriptionsLifecycle,
      ],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    const parse = fhirBodyMiddleware(this.options.maxBodyBytes ?? 1024 * 1024);
    // POST /fhir/Subscription also matches the app's own body middleware (`/fhir/:type`), which
    // then reads the body: parse here only when nothing else will (a body is read once).
    consumer
      .apply((req: Request, res: Response, next: NextFunction) =>
        req.method === 'POST' && req.body === undefined && !req.readableEnded && !fhirTypeRoute(req)
          ? parse(req, res, next)
          : next(),
      )
      .forRoutes(SubscriptionsController);
  }
}

/** Does the FHIR API's generic body middleware (`/fhir/:type`) cover this request too? */
const fhirTypeRoute = (req: Request): boolean =>
  /^\/fhir\/[A-Za-z]+\/?(\?|$)/.test(req.originalUrl);
