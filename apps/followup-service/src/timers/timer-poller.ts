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
import { OutboxWriter } from '@carerelay/messaging';
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
  private running = false;
  private timer?: NodeJS.Timeout;
  private current?: Promise<void>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: OutboxWriter,
    @Inject(TimerStore) private readonly timers: TimerStore,
    @Inject(POLLER_OPTIONS) private readonly options: PollerOptions,
  ) {}

  onApplicationBootstrap(): void {
    this.running = true;
    reportPendingFrom(() => this.timers.pendingByKind(this.dataSource.manager));
    this.schedule(0);
  }

  async onModuleDestroy(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.current;
    reportPendingFrom(undefined);
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.current = this.pollUntilIdle().finally(() => {
        this.current = undefined;
        this.schedule(this.options.pollMs);
      });
    }, delayMs);
  }

  private async pollUntilIdle(): Promise<void> {
    try {
      while (this.running && (await this.fireDue()) === this.options.batchSize);
    } catch (error) {
      this.logger.warn(`firing due timers failed: ${safeErrorText(error)}`);
    }
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
