import { DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { brokersOf, databaseTimeoutsOf } from '@carerelay/config';
import { MessagingModule } from '@carerelay/messaging';
import { ObservabilityModule } from '@carerelay/observability';
import { PersistenceModule } from '@carerelay/persistence';
import { TableMaintenanceModule } from '@carerelay/service';
import { AccountsController } from './accounts/accounts.controller';
import { AccountsService } from './accounts/accounts.service';
import { DemoSeed } from './accounts/demo-seed';
import { OidcController } from './accounts/oidc.controller';
import { SessionGuard } from './accounts/session.guard';
import { SessionsRepository } from './accounts/sessions.repository';
import { UsersRepository } from './accounts/users.repository';
import { DashboardController } from './dashboard/dashboard.controller';
import { LiveController } from './live/live.controller';
import { LiveUpdatesService } from './live/live-updates.service';
import { WEB_MIGRATIONS } from './migrations';
import { CapacityController } from './operations/capacity.controller';
import { OperationsController } from './operations/operations.controller';
import { OperationsService } from './operations/operations.service';
import { OperatorActionsRepository } from './platform/operator-actions.repository';
import { ServicesGateway } from './platform/services.gateway';
import { NotesRepository } from './referrals/notes.repository';
import { FhirGateway } from './referrals/fhir.gateway';
import { ReferralsController } from './referrals/referrals.controller';
import { ReferralsService } from './referrals/referrals.service';
import { WEB_CONFIG, WEB_SERVICE_NAME, WebConfig } from './web.config';

@Module({})
export class AppModule {
  static register(config: WebConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PersistenceModule.forService({
          url: config.DATABASE_URL,
          schema: config.WEB_DB_SCHEMA,
          entities: [],
          migrations: WEB_MIGRATIONS,
          applicationName: 'carerelay-web',
          poolSize: config.DB_POOL_SIZE,
          timeouts: databaseTimeoutsOf(config),
        }),
        TableMaintenanceModule.forRoot({
          schema: config.WEB_DB_SCHEMA,
          intervalMs: config.DB_MAINTENANCE_INTERVAL_MS,
        }),
        // For /health/ready (Kafka) and the topics; the web app publishes nothing.
        MessagingModule.forRoot({
          serviceName: WEB_SERVICE_NAME,
          schema: config.WEB_DB_SCHEMA,
          brokers: brokersOf(config),
          runOutboxRelay: false,
        }),
        ObservabilityModule,
      ],
      controllers: [
        AccountsController,
        OidcController,
        ReferralsController,
        LiveController,
        DashboardController,
        CapacityController,
        OperationsController,
      ],
      providers: [
        { provide: WEB_CONFIG, useValue: config },
        { provide: APP_GUARD, useClass: SessionGuard },
        UsersRepository,
        SessionsRepository,
        AccountsService,
        DemoSeed,
        FhirGateway,
        ReferralsService,
        LiveUpdatesService,
        ServicesGateway,
        NotesRepository,
        OperatorActionsRepository,
        OperationsService,
      ],
    };
  }
}
