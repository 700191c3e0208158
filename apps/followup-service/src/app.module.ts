import { DynamicModule, Module } from '@nestjs/common';
import { serviceImports, serviceSchemaProvider } from '@carerelay/service';
import {
  FOLLOWUP_SCHEMA,
  FOLLOWUP_SERVICE_NAME,
  FollowupServiceConfig,
} from './followup-service.config';
import { FOLLOWUP_MIGRATIONS } from './migrations';
import { PolicyController } from './policy/policy.controller';
import { PolicyStore } from './policy/policy.store';
import { RecordsController, TimersController } from './records/records.controller';
import { RecordsRepository } from './records/records.repository';
import { RecordsService } from './records/records.service';
import { ReferralEventsHandler } from './timers/referral-events.handler';
import { TimerPlanner } from './timers/timer-planner';
import { POLLER_OPTIONS, TimerPoller } from './timers/timer.poller';
import { TimerStore } from './timers/timer.store';

@Module({})
export class AppModule {
  static register(config: FollowupServiceConfig, schema = FOLLOWUP_SCHEMA): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ...serviceImports({
          serviceName: FOLLOWUP_SERVICE_NAME,
          config,
          schema,
          migrations: FOLLOWUP_MIGRATIONS,
        }),
      ],
      controllers: [ReferralEventsHandler, PolicyController, RecordsController, TimersController],
      providers: [
        serviceSchemaProvider(schema),
        { provide: PolicyStore, useFactory: () => new PolicyStore(schema) },
        { provide: TimerStore, useFactory: () => new TimerStore(schema) },
        {
          provide: POLLER_OPTIONS,
          useValue: { pollMs: config.FOLLOWUP_POLL_MS, batchSize: config.FOLLOWUP_POLL_BATCH },
        },
        TimerPlanner,
        TimerPoller,
        RecordsRepository,
        RecordsService,
      ],
    };
  }
}
