import {
  DynamicModule,
  Global,
  Inject,
  MiddlewareConsumer,
  Module,
  ModuleMetadata,
  NestModule,
  Provider,
} from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, ModuleRef } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { OutboxWriter } from '@carerelay/messaging';
import { serviceImports } from '@carerelay/service';
import { AuditEventController } from './audit/audit.controller';
import { AuditSearch } from './audit/audit-search';
import { AuditService } from './audit/audit.service';
import { baseUrlAliasesOf, tokenUrlOf } from './auth/auth.config';
import { AuthModule, type AuthModuleOptions } from './auth/auth.module';
import { AuthSettings } from './auth/token.service';
import { capabilityStatement, SUBSCRIPTIONS_SERVED } from './capability';
import { FhirApiConfig } from './fhir-api.config';
import { DevActorGuard } from './http/dev-actor.guard';
import { fhirBodyMiddleware } from './http/fhir-body.middleware';
import { FhirExceptionFilter } from './http/fhir-exception.filter';
import { CAPABILITY_STATEMENT, FhirController } from './http/fhir.controller';
import { FhirRateLimitInterceptor, FhirRateLimiter } from './http/fhir-rate-limit';
import { RefusedInputInterceptor } from './http/refused-input.interceptor';
import { BundleProcessor } from './interactions/bundle.processor';
import { FhirInteractions } from './interactions/fhir.interactions';
import { SearchCursors } from './interactions/search-cursor';
import { FHIR_API_ALL_MIGRATIONS, FHIR_API_MIGRATIONS } from './migrations';
import { ResourceStore } from './store/resource.store';

export { FHIR_API_ALL_MIGRATIONS, FHIR_API_MIGRATIONS };

export const FHIR_API_CONFIG = Symbol('FHIR_API_CONFIG');

/** The FHIR base URL as clients see it; set after listening when the port was 0. */
export class FhirBase {
  /** @param aliases other addresses of the same server: references on them are local too */
  constructor(
    public url: string,
    readonly aliases: readonly string[] = [],
  ) {}

  /** The bases a reference is local on: the live one first. */
  get localUrls(): readonly string[] {
    return [this.url, ...this.aliases];
  }
}

export interface FhirApiModuleOptions {
  /** Modules to import after auth and before the FHIR routes. */
  imports?: ModuleMetadata['imports'];
  /** Extra providers of the FHIR routes' module. */
  providers?: Provider[];
  /** Migrations of extra modules, run after FHIR_API_ALL_MIGRATIONS in the same schema. */
  migrations?: (new () => unknown)[];
  /**
   * Settings of the auth module (signing key, its source, token lifetime). Default: from the
   * environment (FHIR_TOKEN_SIGNING_KEY, FHIR_TOKEN_SIGNING_KEY_SOURCE,
   * FHIR_ACCESS_TOKEN_TTL_SECONDS); the base URL is always the app's live one.
   */
  auth?: Omit<AuthModuleOptions, 'baseUrl' | 'globalGuard' | 'auditRoutes'>;
}

/**
 * With FHIR_AUTH_DISABLED (development and tests only) there is no token endpoint and no token
 * guard, but the audit trail is the same: AuditService, AuditSearch and GET /fhir/AuditEvent.
 */
@Module({})
export class AuditTrailModule {
  static register(base: FhirBase): DynamicModule {
    return {
      module: AuditTrailModule,
      global: true,
      controllers: [AuditEventController],
      providers: [
        { provide: AuthSettings, useValue: new AuthSettings(() => base.url) },
        {
          provide: AuditService,
          inject: [DataSource],
          useFactory: (ds: DataSource) => new AuditService(ds, schemaOfDataSource(ds)),
        },
        {
          provide: AuditSearch,
          // The search's cursor key (FhirCoreModule).
          inject: [DataSource, SearchCursors],
          useFactory: (ds: DataSource, cursors: SearchCursors) =>
            new AuditSearch(ds, schemaOfDataSource(ds), cursors),
        },
      ],
      exports: [AuthSettings, AuditService, AuditSearch],
    };
  }
}

function schemaOfDataSource(dataSource: DataSource): string {
  const schema = (dataSource.options as { schema?: string }).schema;
  if (!schema) throw new Error('the fhir-api needs a DataSource with a schema');
  return schema;
}

/** The app's configuration and live base URL, for every module. */
@Global()
@Module({})
export class FhirCoreModule {
  static register(config: FhirApiConfig, base: FhirBase): DynamicModule {
    return {
      module: FhirCoreModule,
      global: true,
      providers: [
        { provide: FHIR_API_CONFIG, useValue: config },
        { provide: FhirBase, useValue: base },
        // One cursor key for every paged answer (searches, history, AuditEvent search).
        {
          provide: SearchCursors,
          useValue: new SearchCursors(
            config.FHIR_SEARCH_CURSOR_KEY
              ? Buffer.from(config.FHIR_SEARCH_CURSOR_KEY, 'base64url')
              : undefined,
          ),
        },
      ],
      exports: [FHIR_API_CONFIG, FhirBase, SearchCursors],
    };
  }
}

/**
 * The FHIR REST routes (`/fhir`, `/fhir/:type`, `/fhir/:type/:id`, …) and what they run on. A
 * module of its own, imported LAST: Nest registers routes module by module in import order, and
 * the generic `:type/:id` routes would otherwise swallow the auth module's specific ones
 * (`/fhir/.well-known/smart-configuration`, `/fhir/AuditEvent`).
 */
@Module({})
export class FhirRestModule implements NestModule {
  constructor(@Inject(FHIR_API_CONFIG) private readonly config: FhirApiConfig) {}

  static register(config: FhirApiConfig, options: FhirApiModuleOptions = {}): DynamicModule {
    const schema = config.FHIR_DB_SCHEMA;
    const guards: Provider[] = config.FHIR_AUTH_DISABLED
      ? [{ provide: APP_GUARD, useClass: DevActorGuard }]
      : [];
    return {
      module: FhirRestModule,
      controllers: [FhirController],
      providers: [
        {
          provide: ResourceStore,
          inject: [DataSource, OutboxWriter, FhirBase],
          useFactory: (dataSource: DataSource, outbox: OutboxWriter, base: FhirBase) =>
            new ResourceStore(dataSource, outbox, {
              schema,
              localBaseUrls: () => base.localUrls,
              attempts: config.FHIR_TRANSACTION_ATTEMPTS,
            }),
        },
        {
          provide: FhirInteractions,
          inject: [FhirBase, SearchCursors],
          useFactory: (base: FhirBase, cursors: SearchCursors) =>
            new FhirInteractions(
              () => base.url,
              {
                defaultCount: Math.min(config.FHIR_DEFAULT_COUNT, config.FHIR_MAX_COUNT),
                maxCount: config.FHIR_MAX_COUNT,
                maxSearchCost: config.FHIR_MAX_SEARCH_COST,
              },
              cursors,
            ),
        },
        {
          provide: BundleProcessor,
          inject: [ResourceStore, FhirInteractions, AuditService],
          useFactory: (store: ResourceStore, interactions: FhirInteractions, audit: AuditService) =>
            new BundleProcessor(store, interactions, config.FHIR_MAX_BUNDLE_ENTRIES, audit, {
              defaultCount: Math.min(config.FHIR_DEFAULT_COUNT, config.FHIR_MAX_COUNT),
              maxCount: config.FHIR_MAX_COUNT,
              maxSearchCost: config.FHIR_MAX_SEARCH_COST,
              maxBundleCost: config.FHIR_MAX_BUNDLE_COST,
            }),
        },
        {
          provide: CAPABILITY_STATEMENT,
          inject: [FhirBase, ModuleRef],
          useFactory: (base: FhirBase, moduleRef: ModuleRef) => {
            const cache = new Map<string, ReturnType<typeof capabilityStatement>>();
            // Asked at the first request, when every imported module is there.
            const subscriptionsServed = (): boolean => {
              try {
                return moduleRef.get(SUBSCRIPTIONS_SERVED, { strict: false }) === true;
              } catch {
                return false;
              }
            };
            return () => {
              let statement = cache.get(base.url);
              if (!statement) {
                statement = capabilityStatement(base.url, {
                  tokenUrl: config.FHIR_AUTH_DISABLED ? undefined : tokenUrlOf(base.url),
                  subscriptions: subscriptionsServed(),
                });
                cache.set(base.url, statement);
              }
              return statement;
            };
          },
        },
        { provide: APP_FILTER, useClass: FhirExceptionFilter },
        {
          provide: FhirRateLimiter,
          useValue: new FhirRateLimiter({
            points: config.FHIR_RATE_LIMIT_POINTS,
            windowSeconds: config.FHIR_RATE_LIMIT_WINDOW_SECONDS,
          }),
        },
        // In this order: a client over its allowance is refused before its input is looked at.
        { provide: APP_INTERCEPTOR, useClass: FhirRateLimitInterceptor },
        { provide: APP_INTERCEPTOR, useClass: RefusedInputInterceptor },
        ...guards,
        ...(options.providers ?? []),
      ],
      exports: [ResourceStore, FhirInteractions],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer
      .apply(
        fhirBodyMiddleware(this.config.FHIR_MAX_BODY_BYTES, this.config.FHIR_MAX_XML_BODY_BYTES),
      )
      .forRoutes(FhirController);
  }
}

/**
 * The FHIR API: configuration, messaging (outbox), persistence (every fhir-api migration), auth
 * (SMART Backend Services and the token guard; with FHIR_AUTH_DISABLED the dev actor guard and the
 * audit trail only), then the FHIR routes.
 */
@Module({})
export class AppModule {
  static register(config: FhirApiConfig, options: FhirApiModuleOptions = {}): DynamicModule {
    const schema = config.FHIR_DB_SCHEMA;
    const base = new FhirBase(
      config.FHIR_BASE_URL,
      baseUrlAliasesOf(config.FHIR_BASE_URL_ALIASES).filter(
        (alias) => alias !== config.FHIR_BASE_URL,
      ),
    );
    const auth = config.FHIR_AUTH_DISABLED
      ? AuditTrailModule.register(base)
      : AuthModule.forRoot({
          ...options.auth,
          env: {
            ...process.env,
            ...options.auth?.env,
            FHIR_BASE_URL: config.FHIR_BASE_URL,
            FHIR_BASE_URL_ALIASES: config.FHIR_BASE_URL_ALIASES,
          },
          baseUrl: () => base.url,
        });
    return {
      module: AppModule,
      imports: [
        FhirCoreModule.register(config, base),
        ...serviceImports({
          serviceName: 'fhir-api',
          config,
          schema,
          migrations: [...new Set([...FHIR_API_ALL_MIGRATIONS, ...(options.migrations ?? [])])],
          poolSize: config.FHIR_DB_POOL_SIZE,
          applicationName: 'carerelay-fhir-api',
          // The FHIR API authenticates with SMART Backend Services (AuthModule), not service auth.
          serviceAuth: false,
        }),
        auth,
        ...(options.imports ?? []),
        FhirRestModule.register(config, options),
      ],
    };
  }
}
