import { DynamicModule, Module } from '@nestjs/common';
import { brokersOf } from '@carerelay/config';
import { MessagingModule } from '@carerelay/messaging';
import { ObservabilityModule } from '@carerelay/observability';
import { ServiceAuthModule } from '@carerelay/auth';
import { PersistenceModule } from '@carerelay/persistence';
import {
  FOLLOWUP_SCHEMA,
  FOLLOWUP_SERVICE_NAME,
  FollowupServiceConfig,
} from './followup-service.config';
import { FOLLOWUP_MIGRATIONS } from './migrations';
import { PolicyController } from './policy/policy.controller';
import { PolicyStore } from './policy/policy.store';
import { RecordsController } from './records/records.controller';
import { ReferralEventsHandler } from './timers/referral-events.handler';
import { TimerPlanner } from './timers/timer-planner';
import { POLLER_OPTIONS, TimerPoller } from './timers/timer-poller';
import { TimerStore } from './timers/timer.store';

@Module({})
export class AppModule {
  static register(config: FollowupServiceConfig, schema = FOLLOWUP_SCHEMA): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PersistenceModule.forService({
          url: config.DATABASE_URL,
          schema,
          entities: [],
          migrations: FOLLOWUP_MIGRATIONS,
        }),
        MessagingModule.forRoot({
          serviceName: FOLLOWUP_SERVICE_NAME,
          schema,
          brokers: brokersOf(config),
          outboxPollMs: config.OUTBOX_POLL_MS,
        }),
        ObservabilityModule,
        ServiceAuthModule.forRoot(),
      ],
      controllers: [ReferralEventsHandler, PolicyController, RecordsController],
      providers: [
        { provide: 'FOLLOWUP_SCHEMA', useValue: schema },
        { provide: PolicyStore, useFactory: () => new PolicyStore(schema) },
        { provide: TimerStore, useFactory: () => new TimerStore(schema) },
        {
          provide: POLLER_OPTIONS,
          useValue: { pollMs: config.FOLLOWUP_POLL_MS, batchSize: config.FOLLOWUP_POLL_BATCH },
        },
        TimerPlanner,
        TimerPoller,
      ],
    };
  }
}
