import { REPUBLISH_LIMITER, republishLimiter } from './http/republish-limiter';
import { DynamicModule, Logger, Module, Provider } from '@nestjs/common';
import { serviceImports, serviceSchemaProvider } from '@carerelay/service';
import type { JWK } from 'jose';
import { FhirApiClient, SmartBackendTokenSource } from '@carerelay/fhir-client';
import { DIRECTORY_SERVICE_NAME, DirectoryServiceConfig } from './directory-service.config';
import { DirectoryService } from './directory/directory.service';
import { DirectoryStore } from './directory/directory.store';
import { HsdsImportService } from './directory/hsds-import.service';
import {
  DIRECTORY_EVENT_SOURCE,
  DIRECTORY_FHIR_CLIENT,
  DirectoryFhirPublisher,
} from './fhir/directory-fhir.publisher';
import { DirectoryController } from './http/directory.controller';
import { DIRECTORY_MIGRATIONS } from './migrations';
import { SEED_SAMPLE, SampleSeeder } from './seed/sample.seeder';

/** The CloudEvents source of this service's events (MessagingModule names it so). */
export const DIRECTORY_SOURCE = `/carerelay/${DIRECTORY_SERVICE_NAME}`;

/** CareRelay's FHIR API as the platform's system client. */
export function platformFhirClient(config: DirectoryServiceConfig): FhirApiClient {
  const baseUrl = config.FHIR_API_BASE_URL as string;
  if (config.FHIR_API_AUTH === 'dev') {
    return new FhirApiClient(baseUrl, undefined, {
      customHeaders: { 'X-Dev-Actor': `platform:${config.PLATFORM_ORGANIZATION_ID}` },
    });
  }
  const privateJwk = JSON.parse(config.PLATFORM_PRIVATE_JWK) as JWK;
  const tokens = new SmartBackendTokenSource({
    tokenUrl: `${baseUrl}/auth/token`,
    clientId: config.PLATFORM_CLIENT_ID,
    privateJwk,
    alg: privateJwk.kty === 'EC' ? 'ES384' : 'RS384',
    scope: config.PLATFORM_SCOPES,
  });
  return new FhirApiClient(baseUrl, tokens);
}

/** Whether the FHIR publisher runs: a FHIR API to publish to (or a client given by a test). */
export const publishesToFhir = (config: DirectoryServiceConfig, client?: FhirApiClient): boolean =>
  client !== undefined || config.FHIR_API_BASE_URL !== undefined;

@Module({})
export class AppModule {
  static register(
    config: DirectoryServiceConfig,
    schema = config.DIRECTORY_DB_SCHEMA,
    client?: FhirApiClient,
  ): DynamicModule {
    const fhir = publishesToFhir(config, client);
    const fhirProviders: Provider[] = fhir
      ? [
          {
            provide: DIRECTORY_FHIR_CLIENT,
            useFactory: () => client ?? platformFhirClient(config),
          },
          { provide: DIRECTORY_EVENT_SOURCE, useValue: DIRECTORY_SOURCE },
        ]
      : [];
    if (!fhir) {
      new Logger('DirectoryService').log(
        'FHIR_API_BASE_URL is not set: the directory is not published to the FHIR API',
      );
    }
    return {
      module: AppModule,
      imports: [
        ...serviceImports({
          serviceName: DIRECTORY_SERVICE_NAME,
          config,
          schema,
          migrations: DIRECTORY_MIGRATIONS,
        }),
      ],
      controllers: [DirectoryController, ...(fhir ? [DirectoryFhirPublisher] : [])],
      providers: [
        serviceSchemaProvider(schema),
        { provide: SEED_SAMPLE, useValue: config.DIRECTORY_SEED_SAMPLE },
        {
          provide: REPUBLISH_LIMITER,
          useValue: republishLimiter(config.DIRECTORY_REPUBLISH_MIN_INTERVAL_SECONDS),
        },
        DirectoryStore,
        DirectoryService,
        HsdsImportService,
        SampleSeeder,
        ...fhirProviders,
      ],
    };
  }
}
