import { DynamicModule, Module } from '@nestjs/common';
import { ServiceAuthModule } from '@carerelay/auth';
import { brokersOf } from '@carerelay/config';
import { MessagingModule } from '@carerelay/messaging';
import { ObservabilityModule } from '@carerelay/observability';
import { PersistenceModule } from '@carerelay/persistence';
import {
  ANALYTICS_SCHEMA,
  ANALYTICS_SERVICE_NAME,
  AnalyticsServiceConfig,
  SERVICE_SCHEMA,
} from './analytics-service.config';
import { AnalyticsController } from './http/analytics.controller';
import { AnalyticsEventsHandler } from './ingest/analytics-events.handler';
import { ReadModelRepository } from './ingest/read-model.repository';
import { MeasuresRepository } from './measures/measures.repository';
import { MeasuresService } from './measures/measures.service';
import { ANALYTICS_MIGRATIONS } from './migrations';

@Module({})
export class AppModule {
  static register(config: AnalyticsServiceConfig, schema = ANALYTICS_SCHEMA): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PersistenceModule.forService({
          url: config.DATABASE_URL,
          schema,
          entities: [],
          migrations: ANALYTICS_MIGRATIONS,
        }),
        MessagingModule.forRoot({
          serviceName: ANALYTICS_SERVICE_NAME,
          schema,
          brokers: brokersOf(config),
          outboxPollMs: config.OUTBOX_POLL_MS,
        }),
        ObservabilityModule,
        ServiceAuthModule.forRoot(),
      ],
      controllers: [AnalyticsEventsHandler, AnalyticsController],
      providers: [
        { provide: SERVICE_SCHEMA, useValue: schema },
        ReadModelRepository,
        MeasuresRepository,
        MeasuresService,
      ],
    };
  }
}
