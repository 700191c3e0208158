import { safeErrorText } from '@carerelay/persistence';
import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
} from '@nestjs/common';
import { DataSource } from 'typeorm';
import { EventTypes, FollowupEventV1 } from '@carerelay/contracts';
import { OutboxWriter, PollingLoop } from '@carerelay/messaging';
import { firedTimers, reportPendingFrom } from './timer-metrics';
import { TimerRow, TimerStore } from './timer.store';

export const POLLER_OPTIONS = Symbol('POLLER_OPTIONS');
export interface PollerOptions {
  pollMs: number;
  batchSize: number;
}

/** The event a fired timer announces: deadlines breach, reminders and warnings are due. */
export function followupEventOf(timer: TimerRow, now: Date) {
  const definition =
    timer.stage === 'deadline' ? EventTypes.followupBreached : EventTypes.followupDue;
  const data: FollowupEventV1 = {
    referralId: timer.referralId,
    kind: timer.kind,
    occurredAt: now.toISOString(),
    dueAt: timer.deadlineAt.toISOString(),
    organizationId: timer.organizationId ?? undefined,
    detail: {
      timerId: timer.id,
      stage: timer.stage,
      attempt: timer.attempt,
      ...(timer.kind === 'reminder' ? { reminder: timer.seq + 1 } : {}),
      firesAt: timer.dueAt.toISOString(),
      networkId: timer.networkId,
    },
  };
  return { definition, data };
}

/**
 * Fires due timers. Each batch is one transaction: claim (FOR UPDATE SKIP LOCKED), append the
 * event to the outbox, mark fired, commit. So a timer fires exactly once, whichever instance
 * claims it, and a crash before the commit leaves it pending for the next poll.
 */
@Injectable()
export class TimerPoller implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(TimerPoller.name);
  private readonly loop: PollingLoop;

  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: OutboxWriter,
    @Inject(TimerStore) private readonly timers: TimerStore,
    @Inject(POLLER_OPTIONS) private readonly options: PollerOptions,
  ) {
    this.loop = new PollingLoop({
      intervalMs: options.pollMs,
      tick: () => this.fireDue(),
      // A full batch: more are due, fire them now rather than a poll later.
      again: (fired) => fired === options.batchSize,
      onError: (error) => this.logger.warn(`firing due timers failed: ${safeErrorText(error)}`),
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    reportPendingFrom(() => this.timers.pendingByKind(this.dataSource.manager));
    await this.loop.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.loop.stop();
    reportPendingFrom(undefined);
  }

  /** Fires one batch of due timers; returns how many. */
  async fireDue(): Promise<number> {
    const fired = await this.dataSource.transaction(async (manager) => {
      const due = await this.timers.claimDue(manager, this.options.batchSize);
      const now = new Date();
      for (const timer of due) {
        const { definition, data } = followupEventOf(timer, now);
        const event = await this.outbox.append(manager, definition, data, {
          subject: timer.referralId,
        });
        await this.timers.markFired(manager, timer.id, event.id);
      }
      return due;
    });
    for (const timer of fired) firedTimers.inc({ kind: timer.kind, stage: timer.stage });
    return fired.length;
  }
}
