import type { INestApplication, LogLevel } from '@nestjs/common';
import { FhirApiClient, isTransientFhirError } from '@carerelay/fhir-client';
import { managementListenerOf, tlsFilesOf } from '@carerelay/config';
import { startService } from '@carerelay/service';
import { AppModule, publishesToFhir } from './app.module';
import { DirectoryServiceConfig } from './directory-service.config';

/** Nest's own log levels for LOG_LEVEL (the pino logger filters by LOG_LEVEL itself). */
export function nestLogLevels(level: string): LogLevel[] | false {
  switch (level) {
    case 'silent':
      return false;
    case 'fatal':
    case 'error':
      return ['fatal', 'error'];
    case 'warn':
      return ['fatal', 'error', 'warn'];
    case 'debug':
    case 'trace':
      return ['fatal', 'error', 'warn', 'log', 'debug'];
    default:
      return ['fatal', 'error', 'warn', 'log'];
  }
}

/** Builds and starts the service; tests call it with their own schema, group and port 0. */
export function startDirectoryService(
  config: DirectoryServiceConfig,
  options: { schema?: string; groupId?: string; port?: number; fhirClient?: FhirApiClient } = {},
): Promise<INestApplication> {
  const fhir = publishesToFhir(config, options.fhirClient);
  return startService({
    name: 'directory-service',
    logLevel: config.LOG_LEVEL,
    module: AppModule.register(config, options.schema, options.fhirClient),
    port: options.port ?? config.DIRECTORY_SERVICE_PORT,
    host: config.API_HOST,
    management: managementListenerOf(config),
    tls: tlsFilesOf(config),
    // Whole directories arrive as one HSDS document; every other body is one entry.
    http: {
      limit: '256kb',
      routes: [{ path: '/import/hsds', limit: config.DIRECTORY_BODY_LIMIT }],
    },
    consumer: fhir
      ? {
          groupId: options.groupId ?? config.DIRECTORY_FHIR_CONSUMER_GROUP,
          isTransient: isTransientFhirError,
        }
      : undefined,
  });
}
