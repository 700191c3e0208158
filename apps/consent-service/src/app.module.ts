import { DynamicModule, Module } from '@nestjs/common';
import { serviceImports, serviceSchemaProvider } from '@carerelay/service';
import {
  CONSENT_CONFIG,
  CONSENT_SCHEMA,
  CONSENT_SERVICE_NAME,
  ConsentServiceConfig,
} from './consent-service.config';
import { ConsentChangeHandler } from './consents/consent-change.handler';
import { ConsentLedger } from './consents/consent.ledger';
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
        ...serviceImports({
          serviceName: CONSENT_SERVICE_NAME,
          config,
          schema,
          migrations: CONSENT_MIGRATIONS,
        }),
      ],
      controllers: [ConsentChangeHandler, ReferralRouteHandler, ConsentsController],
      providers: [
        serviceSchemaProvider(schema),
        { provide: CONSENT_CONFIG, useValue: config },
        ConsentLedger,
        ConsentTimerPoller,
      ],
    };
  }
}
