import { DynamicModule, Module } from '@nestjs/common';
import { brokersOf } from '@carerelay/config';
import { MessagingModule } from '@carerelay/messaging';
import { ObservabilityModule } from '@carerelay/observability';
import { PersistenceModule } from '@carerelay/persistence';
import { REFERRAL_MIGRATIONS } from './migrations';
import {
  REFERRAL_SCHEMA,
  REFERRAL_SERVICE_NAME,
  ReferralServiceConfig,
} from './referral-service.config';
import { Referral } from './referrals/referral.entity';
import { ReferralIntakeHandler } from './referrals/referral-intake.handler';

@Module({})
export class AppModule {
  static register(config: ReferralServiceConfig, schema = REFERRAL_SCHEMA): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PersistenceModule.forService({
          url: config.DATABASE_URL,
          schema,
          entities: [Referral],
          migrations: REFERRAL_MIGRATIONS,
        }),
        MessagingModule.forRoot({
          serviceName: REFERRAL_SERVICE_NAME,
          schema,
          brokers: brokersOf(config),
          outboxPollMs: config.OUTBOX_POLL_MS,
        }),
        ObservabilityModule,
      ],
      controllers: [ReferralIntakeHandler],
    };
  }
}
