import { DynamicModule, Module } from '@nestjs/common';
import { brokersOf } from '@carerelay/config';
import { MessagingModule } from '@carerelay/messaging';
import { ObservabilityModule } from '@carerelay/observability';
import { ServiceAuthModule } from '@carerelay/auth';
import { PersistenceModule } from '@carerelay/persistence';
import {
  CONSENT_CONFIG,
  CONSENT_SCHEMA,
  CONSENT_SERVICE_NAME,
  ConsentServiceConfig,
  SERVICE_SCHEMA,
} from './consent-service.config';
import { ConsentChangeHandler } from './consents/consent-change.handler';
import { ConsentLedger } from './consents/consent-ledger';
import { ConsentTimerPoller } from './consents/consent-timer.poller';
import { ConsentsController } from './http/consents.controller';
import { CONSENT_MIGRATIONS } from './migrations';
import { ReferralRouteHandler } from './referrals/referral-route.handler';

@Module({})
export class AppModule {
  static register(config: ConsentServiceConfig, schema = CONSENT_SCHEMA): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PersistenceModule.forService({
          url: config.DATABASE_URL,
          schema,
          entities: [],
          migrations: CONSENT_MIGRATIONS,
        }),
        MessagingModule.forRoot({
          serviceName: CONSENT_SERVICE_NAME,
          schema,
          brokers: brokersOf(config),
          outboxPollMs: config.OUTBOX_POLL_MS,
        }),
        ObservabilityModule,
        ServiceAuthModule.forRoot(),
      ],
      controllers: [ConsentChangeHandler, ReferralRouteHandler, ConsentsController],
      providers: [
        { provide: SERVICE_SCHEMA, useValue: schema },
        { provide: CONSENT_CONFIG, useValue: config },
        ConsentLedger,
        ConsentTimerPoller,
      ],
    };
  }
}
