import { DynamicModule, Module } from '@nestjs/common';
import { serviceImports, serviceSchemaProvider } from '@carerelay/service';
import {
  ANALYTICS_SCHEMA,
  ANALYTICS_SERVICE_NAME,
  AnalyticsServiceConfig,
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
        ...serviceImports({
          serviceName: ANALYTICS_SERVICE_NAME,
          config,
          schema,
          migrations: ANALYTICS_MIGRATIONS,
        }),
      ],
      controllers: [AnalyticsEventsHandler, AnalyticsController],
      providers: [
        serviceSchemaProvider(schema),
        ReadModelRepository,
        MeasuresRepository,
        MeasuresService,
      ],
    };
  }
}
