import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { Counter } from 'prom-client';
import { PollingLoop } from '@carerelay/messaging';
import { metricsRegistry } from '@carerelay/observability';
import { safeErrorText } from '@carerelay/persistence';
import { ReferralServiceConfig } from '../referral-service.config';
import { REFERRAL_CONFIG } from '../referral-config.token';
import { ReferralStepRepository } from './referral-step.repository';
import { ReferralWorkflowService } from './referral-workflow.service';

export const referralSteps = new Counter({
  name: 'carerelay_referral_steps_total',
  help: 'Referral workflow steps carried out: recorded, superseded (another run had recorded it: its FHIR writes were made twice) or failed (tried again later)',
  labelNames: ['outcome'],
  registers: [metricsRegistry],
});

/**
 * Carries out the referrals' open steps after the transactions that decided them: woken in-process
 * when one commits, and every STEP_POLL_MS for steps due again (retries, another instance's). Several
 * referrals at once, each referral's steps one after the other. A runner claims the steps it
 * carries out for STEP_LEASE_MS, so instances share them instead of all carrying out the same
 * ones; a step that outlives its lease may be carried out twice, and its FHIR writes are
 * idempotent and only one records it.
 */
@Injectable()
export class ReferralStepRunner implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ReferralStepRunner.name);
  private readonly loop: PollingLoop;
  private readonly running = new Map<string, Promise<void>>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly steps: ReferralStepRepository,
    private readonly workflow: ReferralWorkflowService,
    @Inject(REFERRAL_CONFIG) private readonly config: ReferralServiceConfig,
  ) {
    this.loop = new PollingLoop({
      intervalMs: config.STEP_POLL_MS,
      tick: () => this.startDue(),
      onError: (error) => this.logger.warn(`looking for due steps failed: ${safeErrorText(error)}`),
    });
  }

  onApplicationBootstrap(): void {
    this.loop.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.loop.stop();
    await Promise.allSettled(this.running.values());
  }

  /** A transaction that decided a step has committed: carry it out now. */
  wake(): void {
    this.loop.wake();
  }

  /** Carries out the referral's open steps and waits for them (the reconciliation's repairs). */
  async runNow(referralId: string): Promise<void> {
    while (this.running.has(referralId)) await this.running.get(referralId);
    await this.launch(referralId, 'all');
  }

  private async startDue(): Promise<void> {
    const room = this.config.STEP_CONCURRENCY - this.running.size;
    if (room <= 0) return;
    const claimed = await this.steps.claimDue(
      room,
      [...this.running.keys()],
      this.config.STEP_LEASE_MS,
    );
    for (const referralId of claimed) void this.launch(referralId, 'claimed');
  }

  /**
   * `claimed`: the one step claimed; one that finishing opens is due at once and claimed again
   * (by whichever instance comes first) when this run ends and wakes the loop.
   */
  private launch(referralId: string, steps: 'claimed' | 'all'): Promise<void> {
    const run = this.runSteps(referralId, steps)
      .catch((error: unknown) => {
        // Recorded on the step, tried again after a backoff.
        referralSteps.inc({ outcome: 'failed' });
        this.logger.warn(`step of referral ${referralId} failed: ${safeErrorText(error)}`);
      })
      .finally(() => {
        this.running.delete(referralId);
        this.loop.wake();
      });
    this.running.set(referralId, run);
    return run;
  }

  private async runSteps(referralId: string, steps: 'claimed' | 'all'): Promise<void> {
    const transaction = <T>(work: (manager: EntityManager) => Promise<T>) =>
      this.dataSource.transaction(work);
    let open = true;
    while (open) {
      const done = await this.workflow.carryOut(referralId, transaction);
      if (done.outcome !== 'none') referralSteps.inc({ outcome: done.outcome });
      open = steps === 'all' && done.open;
    }
  }
}
