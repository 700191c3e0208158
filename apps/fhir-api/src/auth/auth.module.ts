import { DynamicModule, Module, Provider } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { loadConfig } from '@carerelay/config';
import { AuditEventController } from '../audit/audit.controller';
import { AuditSearch } from '../audit/audit-search';
import { SearchCursors } from '../interactions/search-cursor';
import { AuditService } from '../audit/audit.service';
import { AccessTokens } from './access-token';
import { AuthConfig, baseUrlAliasesOf } from './auth.config';
import { ClientStatusCache, FhirAuthGuard, OnBehalfOfClients } from './auth.guard';
import { ClientRegistry } from './client.registry';
import { JtiStore } from './jti.store';
import { loadSigningKey, type SigningKeySource, type TokenSigningKey } from './signing-key';
import { SmartController } from './smart.controller';
import { AuthSettings, TokenService } from './token.service';

export interface AuthModuleOptions {
  /** The FHIR base URL as clients see it, or a function giving it (when known after listen). Default: env FHIR_BASE_URL. */
  baseUrl?: string | (() => string);
  /** Private JWK or PEM for access tokens. Default: env FHIR_TOKEN_SIGNING_KEY. */
  signingKey?: string;
  /** Default: env FHIR_TOKEN_SIGNING_KEY_SOURCE (auto). */
  signingKeySource?: SigningKeySource;
  /** 1..300. Default: env FHIR_ACCESS_TOKEN_TTL_SECONDS (300). */
  accessTokenTtlSeconds?: number;
  /** Register FhirAuthGuard as a global guard (APP_GUARD). Default true. */
  globalGuard?: boolean;
  /** Serve GET /fhir/AuditEvent(/:id) from this module. Default true. */
  auditRoutes?: boolean;
  /** Environment to read defaults from (tests). Default process.env. */
  env?: Record<string, string | undefined>;
}

const TOKEN_SIGNING_KEY = Symbol('TOKEN_SIGNING_KEY');

const schemaOfDataSource = (dataSource: DataSource): string => {
  const schema = (dataSource.options as { schema?: string }).schema;
  if (!schema)
    throw new Error('AuthModule needs a DataSource with a schema (createServiceDataSource)');
  return schema;
};

/**
 * SMART Backend Services for the FHIR API: `/fhir/.well-known/smart-configuration`,
 * `POST /fhir/auth/token`, the access-token guard (sets request.actor), the client registry,
 * and the audit trail (AuditService, AuditSearch, GET /fhir/AuditEvent). Needs a TypeORM
 * DataSource (the app's PersistenceModule) whose migrations include AUTH_MIGRATIONS and
 * AUDIT_MIGRATIONS.
 */
@Module({})
export class AuthModule {
  static forRoot(options: AuthModuleOptions = {}): DynamicModule {
    const env = loadConfig(AuthConfig, options.env ?? process.env);
    const providers: Provider[] = [
      {
        provide: AuthSettings,
        useValue: new AuthSettings(
          options.baseUrl ?? env.FHIR_BASE_URL,
          baseUrlAliasesOf(env.FHIR_BASE_URL_ALIASES),
        ),
      },
      {
        provide: ClientRegistry,
        inject: [DataSource],
        useFactory: (ds: DataSource) => new ClientRegistry(ds, schemaOfDataSource(ds)),
      },
      {
        provide: JtiStore,
        inject: [DataSource],
        useFactory: (ds: DataSource) => new JtiStore(ds, schemaOfDataSource(ds)),
      },
      {
        provide: TOKEN_SIGNING_KEY,
        inject: [DataSource],
        useFactory: (ds: DataSource) =>
          loadSigningKey({
            key: options.signingKey ?? env.FHIR_TOKEN_SIGNING_KEY,
            source: options.signingKeySource ?? env.FHIR_TOKEN_SIGNING_KEY_SOURCE,
            dataSource: ds,
            schema: schemaOfDataSource(ds),
          }),
      },
      {
        provide: AccessTokens,
        inject: [TOKEN_SIGNING_KEY, AuthSettings],
        useFactory: (key: TokenSigningKey, settings: AuthSettings) =>
          new AccessTokens(
            key,
            () => settings.baseUrl,
            options.accessTokenTtlSeconds ?? env.FHIR_ACCESS_TOKEN_TTL_SECONDS,
          ),
      },
      {
        provide: TokenService,
        inject: [AuthSettings, ClientRegistry, JtiStore, AccessTokens],
        useFactory: (s: AuthSettings, r: ClientRegistry, j: JtiStore, t: AccessTokens) =>
          new TokenService(s, r, j, t),
      },
      {
        provide: ClientStatusCache,
        inject: [ClientRegistry],
        useFactory: (registry: ClientRegistry) => new ClientStatusCache(registry),
      },
      {
        provide: OnBehalfOfClients,
        useValue: new OnBehalfOfClients(new Set(baseUrlAliasesOf(env.FHIR_ON_BEHALF_OF_CLIENTS))),
      },
      FhirAuthGuard,
      {
        provide: AuditService,
        inject: [DataSource],
        useFactory: (ds: DataSource) => new AuditService(ds, schemaOfDataSource(ds)),
      },
      {
        provide: AuditSearch,
        // The search's cursor key (FhirCoreModule): optional, for an app without the FHIR routes.
        inject: [DataSource, { token: SearchCursors, optional: true }],
        useFactory: (ds: DataSource, cursors?: SearchCursors) =>
          new AuditSearch(ds, schemaOfDataSource(ds), cursors),
      },
    ];
    if (options.globalGuard !== false)
      providers.push({ provide: APP_GUARD, useExisting: FhirAuthGuard });
    return {
      module: AuthModule,
      global: true,
      controllers: [
        SmartController,
        ...(options.auditRoutes === false ? [] : [AuditEventController]),
      ],
      providers,
      exports: [
        AuthSettings,
        ClientRegistry,
        AccessTokens,
        TokenService,
        FhirAuthGuard,
        AuditService,
        AuditSearch,
      ],
    };
  }
}
