import type { DynamicModule, Provider, Type } from '@nestjs/common';
import { ServiceAuthModule } from '@carerelay/auth';
import { brokersOf, databaseTimeoutsOf, type ServiceConfig } from '@carerelay/config';
import { MessagingModule } from '@carerelay/messaging';
import { ObservabilityModule } from '@carerelay/observability';
import {
  PersistenceModule,
  SERVICE_SCHEMA,
  type ServiceDataSourceOptions,
} from '@carerelay/persistence';
import { TableMaintenanceModule } from './table-maintenance.module';

export interface ServiceModulesOptions {
  /** e.g. consent-service: the CloudEvents source, Kafka client id, default consumer group. */
  serviceName: string;
  config: ServiceConfig;
  /** The service's own schema: its tables, migrations, outbox and inbox. */
  schema: string;
  migrations: ServiceDataSourceOptions['migrations'];
  entities?: ServiceDataSourceOptions['entities'];
  /** The pool's size when the service has a variable of its own (else DB_POOL_SIZE). */
  poolSize?: number;
  applicationName?: string;
  /** Off for services whose HTTP API authenticates otherwise (the FHIR API's SMART auth). */
  serviceAuth?: boolean;
}

/**
 * What every service's AppModule imports: messaging (outbox relay, consumer), persistence (its
 * schema, migrated at start; its tables vacuumed where autovacuum is off), health and metrics,
 * and the role check of libs/auth. Messaging comes before persistence so that on shutdown the
 * outbox relay stops before the pool closes.
 */
export function serviceImports(options: ServiceModulesOptions): Array<DynamicModule | Type> {
  const { config, schema } = options;
  return [
    MessagingModule.forRoot({
      serviceName: options.serviceName,
      schema,
      brokers: brokersOf(config),
      outboxPollMs: config.OUTBOX_POLL_MS,
    }),
    PersistenceModule.forService({
      url: config.DATABASE_URL,
      schema,
      entities: options.entities ?? [],
      migrations: options.migrations,
      timeouts: databaseTimeoutsOf(config),
      poolSize: options.poolSize ?? config.DB_POOL_SIZE,
      ...(options.applicationName !== undefined
        ? { applicationName: options.applicationName }
        : {}),
    }),
    TableMaintenanceModule.forRoot({ schema, intervalMs: config.DB_MAINTENANCE_INTERVAL_MS }),
    ObservabilityModule,
    ...(options.serviceAuth === false
      ? []
      : [ServiceAuthModule.forRoot({ revocationsOf: options.serviceName })]),
  ];
}

/** The service's schema under its one token (SERVICE_SCHEMA of libs/persistence). */
export const serviceSchemaProvider = (schema: string): Provider => ({
  provide: SERVICE_SCHEMA,
  useValue: schema,
});
