import {
  DynamicModule,
  Injectable,
  Module,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { serviceImports, serviceSchemaProvider } from '@carerelay/service';
import { DataSource } from 'typeorm';
import { FhirApiClient } from '@carerelay/fhir-client';
import { EHR_CONNECTOR_SERVICE_NAME, EhrConnectorConfig } from './ehr-connector.config';
import { EhrClients, platformClient } from './fhir/fhir-clients';
import { EHR_CONNECTOR_MIGRATIONS } from './migrations';
import { EhrResourceApplier } from './pull/ehr-resource.applier';
import { PullPoller } from './pull/pull.poller';
import { PullRefusalsController } from './pull/pull-refusals.controller';
import { EhrTaskPusher } from './push/ehr-task-pusher';
import { PushDeliveriesController } from './push/push-deliveries.controller';
import { PushQueue } from './push/push-queue';
import { PushWorker } from './push/push.worker';
import { CARERELAY_BASE_URL, TaskChangesHandler } from './push/task-changes.handler';
import { credentialsCipherOf } from './registry/credentials-cipher';
import { EhrEndpointRegistry } from './registry/ehr-endpoint.registry';
import { EHR_ENDPOINT_RULES } from './registry/ehr-endpoints.controller';
import type { EhrEndpointRules } from './registry/ehr-endpoint.input';
import { EhrEndpointsController } from './registry/ehr-endpoints.controller';
import { EndpointPublisher } from './registry/endpoint.publisher';
import { RemoteReferralStore } from './remote/remote-referral.store';
import { RemoteReferralWorker } from './remote/remote-referral.worker';
import { RemoteReferralsController } from './remote/remote-referrals.controller';
import { EhrNotificationsController } from './subscription/ehr-notifications.controller';
import { EhrSubscriptionRepository } from './subscription/ehr-subscription.repository';
import { EhrSubscriptionsController } from './subscription/ehr-subscriptions.controller';
import { NotificationReceiver } from './subscription/notification.receiver';
import { NotifierSecretGuard } from './subscription/notifier-secret.guard';

export const EHR_CONNECTOR_CONFIG = Symbol('EHR_CONNECTOR_CONFIG');

const endpointRulesOf = (config: EhrConnectorConfig): EhrEndpointRules => ({
  allowedTokenOrigins: config.EHR_TOKEN_URL_ALLOWED_ORIGINS?.split(',') ?? [],
});

@Injectable()
class BackgroundWork implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    private readonly worker: PushWorker,
    private readonly poller: PullPoller,
    private readonly publisher: EndpointPublisher,
    private readonly remoteWorker: RemoteReferralWorker,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.worker.start();
    await this.poller.start();
    await this.publisher.start();
    await this.remoteWorker.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.remoteWorker.stop();
    await this.publisher.stop();
    await this.poller.stop();
    await this.worker.stop();
  }
}

@Module({})
export class AppModule {
  static register(config: EhrConnectorConfig): DynamicModule {
    const schema = config.EHR_CONNECTOR_DB_SCHEMA;
    const logger = console;
    return {
      module: AppModule,
      imports: [
        ...serviceImports({
          serviceName: EHR_CONNECTOR_SERVICE_NAME,
          config,
          schema,
          migrations: EHR_CONNECTOR_MIGRATIONS,
          poolSize: config.EHR_CONNECTOR_DB_POOL_SIZE,
          applicationName: 'carerelay-ehr-connector',
        }),
      ],
      controllers: [
        TaskChangesHandler,
        EhrEndpointsController,
        PushDeliveriesController,
        PullRefusalsController,
        EhrSubscriptionsController,
        EhrNotificationsController,
        RemoteReferralsController,
      ],
      providers: [
        { provide: EHR_CONNECTOR_CONFIG, useValue: config },
        serviceSchemaProvider(schema),
        { provide: CARERELAY_BASE_URL, useValue: config.FHIR_API_BASE_URL.replace(/\/$/, '') },
        { provide: FhirApiClient, useFactory: () => platformClient(config) },
        { provide: EHR_ENDPOINT_RULES, useValue: endpointRulesOf(config) },
        {
          provide: EhrClients,
          inject: [EhrEndpointRegistry],
          useFactory: (registry: EhrEndpointRegistry) =>
            new EhrClients(registry, endpointRulesOf(config)),
        },
        {
          provide: EhrEndpointRegistry,
          inject: [DataSource],
          useFactory: (ds: DataSource) =>
            new EhrEndpointRegistry(
              ds,
              schema,
              config.PLATFORM_ORGANIZATION_ID,
              credentialsCipherOf(config),
            ),
        },
        {
          provide: PushQueue,
          inject: [DataSource],
          useFactory: (ds: DataSource) => new PushQueue(ds, schema),
        },
        {
          provide: EhrTaskPusher,
          inject: [EhrClients, FhirApiClient],
          useFactory: (clients: EhrClients, carerelay: FhirApiClient) =>
            new EhrTaskPusher(clients, carerelay, { businessStatus: config.PUSH_BUSINESS_STATUS }),
        },
        {
          provide: PushWorker,
          inject: [DataSource, PushQueue, EhrEndpointRegistry, EhrTaskPusher],
          useFactory: (
            ds: DataSource,
            queue: PushQueue,
            registry: EhrEndpointRegistry,
            pusher: EhrTaskPusher,
          ) =>
            new PushWorker(ds, queue, registry, pusher, {
              schema,
              pollMs: config.PUSH_POLL_MS,
              concurrency: config.PUSH_CONCURRENCY,
              retry: {
                maxAttempts: config.PUSH_MAX_ATTEMPTS,
                initialBackoffMs: config.PUSH_INITIAL_BACKOFF_MS,
                maxBackoffMs: config.PUSH_MAX_BACKOFF_MS,
              },
              outageParkAfterMs: config.PUSH_OUTAGE_PARK_AFTER_MS,
              logger,
            }),
        },
        {
          provide: EhrResourceApplier,
          inject: [DataSource, EhrClients, FhirApiClient],
          useFactory: (ds: DataSource, clients: EhrClients, carerelay: FhirApiClient) =>
            new EhrResourceApplier(ds, clients, carerelay, {
              schema,
              platformOrganizationId: config.PLATFORM_ORGANIZATION_ID,
              logger,
            }),
        },
        {
          provide: PullPoller,
          inject: [DataSource, EhrEndpointRegistry, EhrClients, EhrResourceApplier],
          useFactory: (
            ds: DataSource,
            registry: EhrEndpointRegistry,
            clients: EhrClients,
            applier: EhrResourceApplier,
          ) =>
            new PullPoller(ds, registry, clients, applier, {
              schema,
              tickMs: config.PULL_TICK_MS,
              logger,
            }),
        },
        {
          provide: EhrSubscriptionRepository,
          inject: [DataSource],
          useFactory: (ds: DataSource) =>
            new EhrSubscriptionRepository(ds, schema, credentialsCipherOf(config)),
        },
        {
          provide: NotificationReceiver,
          inject: [
            DataSource,
            EhrEndpointRegistry,
            EhrSubscriptionRepository,
            EhrClients,
            EhrResourceApplier,
            PullPoller,
          ],
          useFactory: (
            ds: DataSource,
            registry: EhrEndpointRegistry,
            subscriptions: EhrSubscriptionRepository,
            clients: EhrClients,
            applier: EhrResourceApplier,
            poller: PullPoller,
          ) =>
            new NotificationReceiver(ds, registry, subscriptions, clients, applier, poller, logger),
        },
        {
          provide: EndpointPublisher,
          inject: [EhrEndpointRegistry, FhirApiClient],
          useFactory: (registry: EhrEndpointRegistry, carerelay: FhirApiClient) =>
            new EndpointPublisher(registry, carerelay, {
              intervalMs: 10_000,
              logger,
            }),
        },
        {
          provide: RemoteReferralStore,
          inject: [DataSource],
          useFactory: (ds: DataSource) => new RemoteReferralStore(ds, schema),
        },
        {
          provide: RemoteReferralWorker,
          inject: [RemoteReferralStore, EhrEndpointRegistry, EhrClients, FhirApiClient],
          useFactory: (
            store: RemoteReferralStore,
            registry: EhrEndpointRegistry,
            clients: EhrClients,
            carerelay: FhirApiClient,
          ) =>
            new RemoteReferralWorker(store, registry, clients, carerelay, {
              pollMs: config.REMOTE_FETCH_POLL_MS,
              platformOrganizationId: config.PLATFORM_ORGANIZATION_ID,
              retry: {
                maxAttempts: config.REMOTE_FETCH_MAX_ATTEMPTS,
                initialBackoffMs: config.REMOTE_FETCH_INITIAL_BACKOFF_MS,
                maxBackoffMs: config.REMOTE_FETCH_MAX_BACKOFF_MS,
                giveUpAfterMs: config.REMOTE_FETCH_GIVE_UP_AFTER_MS,
              },
              logger,
            }),
        },
        NotifierSecretGuard,
        BackgroundWork,
      ],
    };
  }
}
