import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { safeErrorText, SERVICE_SCHEMA } from '@carerelay/persistence';
import { Referral } from './referral.entity';
import { NewReferral } from './referral-intake.rules';
import { PendingStep, ReferralInput, stepRetryMs } from './referral-step';

/** The referral's open steps and its inbox of events waiting for them. */
@Injectable()
export class ReferralStepRepository {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(SERVICE_SCHEMA) private readonly schema: string,
  ) {}

  /** A new referral with its first step (reading the source); nothing if it is known already. */
  async insertReferral(
    manager: EntityManager,
    intake: NewReferral,
    step: PendingStep,
  ): Promise<boolean> {
    const inserted: unknown[] = await manager.query(
      `INSERT INTO "${this.schema}".referral
         (id, source_task_version, requester_organization_id, patient_id, service_request_id, state,
          pending, pending_due)
       VALUES ($1, $2, $3, $4, $5, 'requested', $6, now()) ON CONFLICT (id) DO NOTHING RETURNING id`,
      [
        intake.taskId,
        intake.taskVersion,
        intake.requesterOrganizationId ?? null,
        intake.patientId ?? null,
        intake.serviceRequestId ?? null,
        JSON.stringify(step),
      ],
    );
    return inserted.length > 0;
  }

  /**
   * Writes what the workflow may change on a referral the caller holds locked: one UPDATE (the
   * entity manager's save first SELECTs the row to compare, a round trip per save).
   */
  async save(manager: EntityManager, referral: Referral): Promise<void> {
    const json = (value: unknown) => (value == null ? null : JSON.stringify(value));
    await manager.query(
      `UPDATE "${this.schema}".referral
          SET state = $2, attempt = $3, target_organization_id = $4, target_service_id = $5,
              cbo_task_id = $6, cbo_service_request_id = $7, tried_organization_ids = $8,
              need = $9, explanation = $10, reason = $11, pending = $12, pending_due = $13,
              source = $14, updated_at = now()
        WHERE id = $1`,
      [
        referral.id,
        referral.state,
        referral.attempt,
        referral.targetOrganizationId ?? null,
        referral.targetServiceId ?? null,
        referral.cboTaskId ?? null,
        referral.cboServiceRequestId ?? null,
        referral.triedOrganizationIds ?? [],
        json(referral.need),
        json(referral.explanation),
        referral.reason ?? null,
        json(referral.pending),
        referral.pendingDue ?? null,
        json(referral.source),
      ],
    );
  }

  /** The referral as committed, without a lock: what a step is carried out from. */
  find(referralId: string): Promise<Referral | null> {
    return this.dataSource.getRepository(Referral).findOneBy({ id: referralId });
  }

  /**
   * Claims referrals whose open step is due, the longest waiting first: each is put off for
   * `leaseMs`, so another instance's runner passes over it while this one carries the step out
   * (finishing clears it, a failed try puts it off to its retry; after a crash it is due again
   * when the lease ends). Rows another transaction holds are skipped, not waited for.
   */
  async claimDue(limit: number, except: string[], leaseMs: number): Promise<string[]> {
    const rows: Array<{ id: string }> = await this.dataSource.query(
      // A SELECT around the UPDATE: the driver answers it with the rows alone.
      `WITH due AS (
         SELECT id FROM "${this.schema}".referral
          WHERE pending IS NOT NULL AND pending_due <= now() AND NOT (id = ANY($2))
          ORDER BY pending_due LIMIT $1
            FOR UPDATE SKIP LOCKED),
       claimed AS (
         UPDATE "${this.schema}".referral AS r
            SET pending_due = now() + make_interval(secs => $3::float8 / 1000)
           FROM due WHERE r.id = due.id
         RETURNING r.id)
       SELECT id FROM claimed`,
      [limit, except, leaseMs],
    );
    return rows.map((row) => row.id);
  }

  /** Counts a failed try of the step and puts the next one off (not through the entity: the
   * referral has not moved). */
  async failed(referralId: string, step: PendingStep, error: unknown): Promise<void> {
    const attempts = step.attempts + 1;
    await this.dataSource.query(
      `UPDATE "${this.schema}".referral
          SET pending = pending || jsonb_build_object('attempts', $3::int, 'lastError', $4::text),
              pending_due = now() + make_interval(secs => $5::float8 / 1000)
        WHERE id = $1 AND pending->>'id' = $2`,
      [referralId, step.id, attempts, safeErrorText(error).slice(0, 500), stepRetryMs(attempts)],
    );
  }

  /** A referral whose source Task is gone before anything was announced: as if never taken in. */
  async forget(manager: EntityManager, referralId: string): Promise<void> {
    await manager.query(`DELETE FROM "${this.schema}".referral_input WHERE referral_id = $1`, [
      referralId,
    ]);
    await manager.query(`DELETE FROM "${this.schema}".referral WHERE id = $1`, [referralId]);
  }

  async queueInput(
    manager: EntityManager,
    referralId: string,
    input: ReferralInput,
    traceparent?: string,
  ): Promise<void> {
    await manager.query(
      `INSERT INTO "${this.schema}".referral_input (referral_id, input, traceparent)
       VALUES ($1, $2, $3)`,
      [referralId, JSON.stringify(input), traceparent ?? null],
    );
  }

  /** The oldest waiting event of a referral, removed (the caller holds the referral's lock). */
  async takeInput(
    manager: EntityManager,
    referralId: string,
  ): Promise<{ input: ReferralInput; traceparent?: string } | undefined> {
    const rows: Array<{ input: ReferralInput; traceparent: string | null }> = await manager.query(
      // A SELECT around the DELETE: the driver answers it with the rows alone.
      `WITH taken AS (
         DELETE FROM "${this.schema}".referral_input
          WHERE seq = (SELECT min(seq) FROM "${this.schema}".referral_input WHERE referral_id = $1)
          RETURNING input, traceparent)
       SELECT input, traceparent FROM taken`,
      [referralId],
    );
    const row = rows[0];
    return row && { input: row.input, traceparent: row.traceparent ?? undefined };
  }
}
