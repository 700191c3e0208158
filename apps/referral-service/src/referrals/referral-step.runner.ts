import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { PollingLoop } from '@carerelay/messaging';
import { safeErrorText } from '@carerelay/persistence';
import { ReferralServiceConfig } from '../referral-service.config';
import { REFERRAL_CONFIG } from '../referral-config.token';
import { ReferralStepRepository } from './referral-step.repository';
import { ReferralWorkflowService } from './referral-workflow.service';

/**
 * Carries out the referrals' open steps after the transactions that decided them: woken in-process
 * when one commits, and every STEP_POLL_MS for steps due again (retries, another instance's). Several
 * referrals at once, each referral's steps one after the other; two instances that pick the same
 * step both make its idempotent FHIR writes, and only one records it.
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
    await this.launch(referralId);
  }

  private async startDue(): Promise<void> {
    const room = this.config.STEP_CONCURRENCY - this.running.size;
    if (room <= 0) return;
    for (const referralId of await this.steps.due(room, [...this.running.keys()]))
      void this.launch(referralId);
  }

  private launch(referralId: string): Promise<void> {
    const run = this.runSteps(referralId)
      .catch((error: unknown) =>
        // Recorded on the step, tried again after a backoff.
        this.logger.warn(`step of referral ${referralId} failed: ${safeErrorText(error)}`),
      )
      .finally(() => {
        this.running.delete(referralId);
        this.loop.wake();
      });
    this.running.set(referralId, run);
    return run;
  }

  private async runSteps(referralId: string): Promise<void> {
    const transaction = <T>(work: (manager: EntityManager) => Promise<T>) =>
      this.dataSource.transaction(work);
    while (await this.workflow.carryOut(referralId, transaction));
  }
}
