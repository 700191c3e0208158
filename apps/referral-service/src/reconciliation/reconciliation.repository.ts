import { Inject, Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { SERVICE_SCHEMA } from '@carerelay/persistence';

/** The open states in which a referral waits for a consent or for a CBO's Task to move. */
export const RECONCILED_STATES = [
  'awaiting-consent',
  'routed',
  'rerouted',
  'accepted',
  'in-progress',
  'on-hold',
] as const;

/** Which referrals the reconciliation visits next, and the mark that it did. */
@Injectable()
export class ReconciliationRepository {
  constructor(@Inject(SERVICE_SCHEMA) private readonly schema: string) {}

  /** Open referrals untouched for graceMs, the least recently compared first. */
  async due(manager: EntityManager, graceMs: number, limit: number): Promise<string[]> {
    const rows: Array<{ id: string }> = await manager.query(
      `SELECT id FROM "${this.schema}".referral
        WHERE state = ANY($1) AND updated_at <= now() - make_interval(secs => $2::float8 / 1000)
          AND coalesce(reconciled_at, updated_at) <= now() - make_interval(secs => $2::float8 / 1000)
        ORDER BY coalesce(reconciled_at, updated_at)
        LIMIT $3`,
      [RECONCILED_STATES, graceMs, limit],
    );
    return rows.map((row) => row.id);
  }

  async markCompared(manager: EntityManager, referralId: string): Promise<void> {
    // Not through the entity: updated_at must keep saying when the referral last moved.
    await manager.query(
      `UPDATE "${this.schema}".referral SET reconciled_at = now() WHERE id = $1`,
      [referralId],
    );
  }
}
