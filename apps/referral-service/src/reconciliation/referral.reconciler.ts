import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { Counter } from 'prom-client';
import { DataSource } from 'typeorm';
import { PollingLoop } from '@carerelay/messaging';
import { metricsRegistry } from '@carerelay/observability';
import { ReferralServiceConfig } from '../referral-service.config';
import { REFERRAL_CONFIG } from '../referral-config.token';
import { ReferralStepRunner } from '../referrals/referral-step.runner';
import { ReferralWorkflowService, Repair } from '../referrals/referral-workflow.service';
import { ReconciliationRepository } from './reconciliation.repository';

export const referralRepairs = new Counter({
  name: 'carerelay_referral_repairs_total',
  help: 'Referrals the reconciliation found out of step with their Tasks or consents, and repaired',
  labelNames: ['kind'],
  registers: [metricsRegistry],
});

export interface RepairReport extends Repair {
  referralId: string;
}

/**
 * The safety net under the event-driven workflow: now and then, compares each open referral that
 * has not moved for a while with what its CBO Task and the patient's consents say, and repairs a
 * disagreement through the normal workflow (the same decisions, events and FHIR writes). Every
 * repair is counted and logged: a lost event is healed and still visible.
 */
@Injectable()
export class ReferralReconciler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ReferralReconciler.name);
  private readonly loop: PollingLoop;

  constructor(
    private readonly dataSource: DataSource,
    private readonly repository: ReconciliationRepository,
    private readonly workflow: ReferralWorkflowService,
    private readonly runner: ReferralStepRunner,
    @Inject(REFERRAL_CONFIG) private readonly config: ReferralServiceConfig,
  ) {
    this.loop = new PollingLoop({
      intervalMs: config.RECONCILE_INTERVAL_MS,
      tick: () => this.reconcileDue(),
      onError: (error) => this.logger.warn(`reconciliation round failed: ${error.message}`),
    });
  }

  onApplicationBootstrap(): void {
    this.loop.start(this.config.RECONCILE_INTERVAL_MS);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.loop.stop();
  }

  /** One round: compares the referrals due and returns the repairs made. */
  async reconcileDue(graceMs = this.config.RECONCILE_GRACE_MS): Promise<RepairReport[]> {
    const due = await this.repository.due(
      this.dataSource.manager,
      graceMs,
      this.config.RECONCILE_BATCH,
    );
    const repairs: RepairReport[] = [];
    for (const referralId of due) {
      try {
        // Read before the transaction: no network call while it is open.
        const cboTask = await this.workflow.currentCboTask(referralId);
        const repair = await this.dataSource.transaction(async (manager) => {
          const made = await this.workflow.reconcile(manager, referralId, cboTask);
          await this.repository.markCompared(manager, referralId);
          return made;
        });
        // The repair's FHIR writes and events, before the round reports it.
        if (repair) await this.runner.runNow(referralId);
        if (!repair) continue;
        repairs.push({ referralId, ...repair });
        referralRepairs.inc({ kind: repair.kind });
        this.logger.warn(
          `referral ${referralId} repaired (${repair.kind}): was ${repair.from}, now ${repair.to}`,
        );
      } catch (error) {
        // The next round tries again; one unreachable Task must not stop the others.
        this.logger.warn(`reconciling referral ${referralId} failed: ${(error as Error).message}`);
      }
    }
    return repairs;
  }
}
