import { safeErrorText, SERVICE_SCHEMA } from '@carerelay/persistence';
import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { DataSource } from 'typeorm';
import { PollingLoop } from '@carerelay/messaging';
import { CONSENT_CONFIG, ConsentServiceConfig } from '../consent-service.config';
import { ConsentLedger } from './consent.ledger';

/**
 * Fires the durable timers of consent_timer: when a consent period starts or ends, the patient's
 * grants are reconciled (consent.granted at a start, consent.expired at an end). Due rows are
 * claimed with FOR UPDATE SKIP LOCKED under the patient's advisory lock and deleted in the same
 * transaction as the events they cause, so several pollers share the work and each boundary is
 * acted on once; the grants table makes a second look harmless anyway.
 */
@Injectable()
export class ConsentTimerPoller implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ConsentTimerPoller.name);
  private readonly loop: PollingLoop;

  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: ConsentLedger,
    @Inject(SERVICE_SCHEMA) private readonly schema: string,
    @Inject(CONSENT_CONFIG) config: ConsentServiceConfig,
  ) {
    this.loop = new PollingLoop({
      intervalMs: config.CONSENT_TIMER_POLL_MS,
      tick: () => this.fireDue(),
      onError: (error) => this.logger.warn(`consent timers: ${safeErrorText(error)}`),
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.loop.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.loop.stop();
  }

  /** Fires every timer due now; returns how many patients were reconciled. */
  async fireDue(now = new Date()): Promise<number> {
    const s = this.schema;
    const candidates: Array<{ patient_id: string }> = await this.dataSource.query(
      `SELECT DISTINCT patient_id FROM "${s}".consent_timer WHERE due_at <= $1 LIMIT 100`,
      [now.toISOString()],
    );
    let fired = 0;
    for (const { patient_id: patientId } of candidates) {
      const claimed = await this.dataSource.transaction(async (manager) => {
        await manager.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [
          `${s}/patient/${patientId}`,
        ]);
        const rows: unknown[] = await manager.query(
          `DELETE FROM "${s}".consent_timer WHERE (patient_id, due_at) IN (
             SELECT patient_id, due_at FROM "${s}".consent_timer
             WHERE patient_id = $1 AND due_at <= $2 FOR UPDATE SKIP LOCKED)
           RETURNING due_at`,
          [patientId, now.toISOString()],
        );
        if (rows.length === 0) return false;
        await this.ledger.reconcile(manager, patientId, new Date());
        return true;
      });
      if (claimed) fired++;
    }
    return fired;
  }
}
