import {
  DynamicModule,
  Inject,
  MiddlewareConsumer,
  Module,
  ModuleMetadata,
  NestModule,
  Provider,
} from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { brokersOf } from '@carerelay/config';
import { MessagingModule, MessagingTables1732300000000, OutboxWriter } from '@carerelay/messaging';
import { PersistenceModule } from '@carerelay/persistence';
import { capabilityStatement } from './capability';
import { FhirApiConfig } from './fhir-api.config';
import { DevActorGuard } from './http/dev-actor.guard';
import { fhirBodyMiddleware } from './http/fhir-body.middleware';
import { FhirExceptionFilter } from './http/fhir-exception.filter';
import { CAPABILITY_STATEMENT, FhirController } from './http/fhir.controller';
import { BundleProcessor } from './interactions/bundle-processor';
import { FhirInteractions } from './interactions/fhir-interactions';
import { FhirStoreTables1732400000000 } from './store/fhir-store.migration';
import { ResourceStore } from './store/resource-store';

export const FHIR_API_CONFIG = Symbol('FHIR_API_CONFIG');

/** The FHIR base URL as clients see it; set after listening when the port was 0. */
export class FhirBase {
  constructor(public url: string) {}
}

export const FHIR_API_MIGRATIONS = [MessagingTables1732300000000, FhirStoreTables1732400000000];

export interface FhirApiModuleOptions {
  /**
   * Modules to import before the FHIR routes (the auth module: its guard sets request.actor, its
   * routes such as /fhir/.well-known/smart-configuration must be registered before `/fhir/:type`).
   */
  imports?: ModuleMetadata['imports'];
  /** Extra providers, e.g. an APP_GUARD. */
  providers?: Provider[];
  /** SMART token endpoint advertised in the CapabilityStatement. */
  tokenUrl?: string;
  /** Migrations of the imported modules (auth, audit), run after the store's in the same schema. */
  migrations?: (new () => unknown)[];
}

@Module({})
export class AppModule implements NestModule {
  constructor(@Inject(FHIR_API_CONFIG) private readonly config: FhirApiConfig) {}

  static register(config: FhirApiConfig, options: FhirApiModuleOptions = {}): DynamicModule {
    const schema = config.FHIR_DB_SCHEMA;
    const guards: Provider[] = config.FHIR_AUTH_DISABLED
      ? [{ provide: APP_GUARD, useClass: DevActorGuard }]
      : [];
    return {
      module: AppModule,
      imports: [
        ...(options.imports ?? []),
        // Messaging before persistence: on shutdown its outbox relay stops before the pool closes.
        MessagingModule.forRoot({
          serviceName: 'fhir-api',
          schema,
          brokers: brokersOf(config),
          outboxPollMs: config.OUTBOX_POLL_MS,
        }),
        PersistenceModule.forService({
          url: config.DATABASE_URL,
          schema,
          entities: [],
          migrations: [...FHIR_API_MIGRATIONS, ...(options.migrations ?? [])],
          poolSize: config.FHIR_DB_POOL_SIZE,
          applicationName: 'carerelay-fhir-api',
        }),
      ],
      controllers: [FhirController],
      providers: [
        { provide: FHIR_API_CONFIG, useValue: config },
        { provide: FhirBase, useValue: new FhirBase(config.FHIR_BASE_URL) },
        {
          provide: ResourceStore,
          inject: [DataSource, OutboxWriter, FhirBase],
          useFactory: (dataSource: DataSource, outbox: OutboxWriter, base: FhirBase) =>
            new ResourceStore(dataSource, outbox, {
              schema,
              localBaseUrls: () => [base.url],
              attempts: config.FHIR_TRANSACTION_ATTEMPTS,
            }),
        },
        {
          provide: FhirInteractions,
          inject: [FhirBase],
          useFactory: (base: FhirBase) =>
            new FhirInteractions(() => base.url, {
              defaultCount: Math.min(config.FHIR_DEFAULT_COUNT, config.FHIR_MAX_COUNT),
              maxCount: config.FHIR_MAX_COUNT,
            }),
        },
        {
          provide: BundleProcessor,
          inject: [ResourceStore, FhirInteractions],
          useFactory: (store: ResourceStore, interactions: FhirInteractions) =>
            new BundleProcessor(store, interactions, config.FHIR_MAX_BUNDLE_ENTRIES),
        },
        {
          provide: CAPABILITY_STATEMENT,
          inject: [FhirBase],
          useFactory: (base: FhirBase) => {
            const cache = new Map<string, ReturnType<typeof capabilityStatement>>();
            return () => {
              let statement = cache.get(base.url);
              if (!statement) {
                statement = capabilityStatement(base.url, options.tokenUrl);
                cache.set(base.url, statement);
              }
              return statement;
            };
          },
        },
        { provide: APP_FILTER, useClass: FhirExceptionFilter },
        ...guards,
        ...(options.providers ?? []),
      ],
      exports: [FHIR_API_CONFIG, FhirBase, ResourceStore],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(fhirBodyMiddleware(this.config.FHIR_MAX_BODY_BYTES)).forRoutes(FhirController);
  }
}
