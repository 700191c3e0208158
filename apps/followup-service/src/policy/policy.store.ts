import { Injectable } from '@nestjs/common';
import { TransactionMemo } from '@carerelay/persistence';
import { EntityManager } from 'typeorm';
import { DEFAULT_NETWORK, DEFAULT_POLICY, DeadlineRule, FollowupPolicy } from './followup-policy';

interface PolicyRow {
  network_id: string;
  time_zone: string;
  holidays: string[];
  acceptance: DeadlineRule;
  reminder_seconds: number[];
  closure: DeadlineRule;
  updated_at: Date;
  organizations: string[] | null;
}

export type StoredPolicy = FollowupPolicy & { updatedAt: Date };

const fromRow = (row: PolicyRow): StoredPolicy => ({
  networkId: row.network_id,
  timeZone: row.time_zone,
  holidays: row.holidays,
  acceptance: row.acceptance,
  reminderSeconds: row.reminder_seconds,
  closure: row.closure,
  organizations: row.organizations ?? [],
  updatedAt: row.updated_at,
});

export class MembershipConflictError extends Error {
  override name = 'MembershipConflictError';
  constructor(readonly conflicts: Array<{ organizationId: string; networkId: string }>) {
    super(
      `organizations already belong to another network: ${conflicts
        .map((c) => `${c.organizationId} (${c.networkId})`)
        .join(', ')}`,
    );
  }
}

/** Per-network follow-up policies and which organizations belong to which network. */
@Injectable()
export class PolicyStore {
  constructor(private readonly schema: string) {}

  private select(where = ''): string {
    const s = this.schema;
    return `SELECT p.*, (SELECT array_agg(m.organization_id ORDER BY m.organization_id)
                           FROM "${s}".network_member m WHERE m.network_id = p.network_id) AS organizations
              FROM "${s}".followup_policy p ${where}`;
  }

  async list(manager: EntityManager): Promise<StoredPolicy[]> {
    const rows: PolicyRow[] = await manager.query(`${this.select()} ORDER BY p.network_id`);
    return rows.map(fromRow);
  }

  async get(manager: EntityManager, networkId: string): Promise<StoredPolicy | undefined> {
    const rows: PolicyRow[] = await manager.query(`${this.select('WHERE p.network_id = $1')}`, [
      networkId,
    ]);
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  /** A gathered batch of referral events reads each network's policy once. */
  private readonly effectiveRead = new TransactionMemo<FollowupPolicy>();

  /** The network's policy, else the default network's, else the built-in default. */
  effective(manager: EntityManager, networkId: string | null): Promise<FollowupPolicy> {
    return this.effectiveRead.get(manager, networkId ?? '', () =>
      this.readEffective(manager, networkId),
    );
  }

  private async readEffective(
    manager: EntityManager,
    networkId: string | null,
  ): Promise<FollowupPolicy> {
    return (
      (networkId ? await this.get(manager, networkId) : undefined) ??
      (await this.get(manager, DEFAULT_NETWORK)) ??
      DEFAULT_POLICY
    );
  }

  /** The network of the first organization that belongs to one, else the default network. */
  async networkOf(
    manager: EntityManager,
    organizationIds: Array<string | undefined>,
  ): Promise<string> {
    const ids = organizationIds.filter((id): id is string => !!id);
    if (ids.length === 0) return DEFAULT_NETWORK;
    const rows: Array<{ organization_id: string; network_id: string }> = await manager.query(
      `SELECT organization_id, network_id FROM "${this.schema}".network_member
        WHERE organization_id = ANY($1)`,
      [ids],
    );
    for (const id of ids) {
      const row = rows.find((r) => r.organization_id === id);
      if (row) return row.network_id;
    }
    return DEFAULT_NETWORK;
  }

  /** Creates or replaces a policy and its member list; the caller's transaction. */
  async put(manager: EntityManager, policy: FollowupPolicy): Promise<StoredPolicy> {
    this.effectiveRead.forget(manager);
    const s = this.schema;
    const conflicts: Array<{ organization_id: string; network_id: string }> = await manager.query(
      `SELECT organization_id, network_id FROM "${s}".network_member
        WHERE organization_id = ANY($1) AND network_id <> $2 ORDER BY organization_id`,
      [policy.organizations, policy.networkId],
    );
    if (conflicts.length > 0) {
      throw new MembershipConflictError(
        conflicts.map((c) => ({ organizationId: c.organization_id, networkId: c.network_id })),
      );
    }
    await manager.query(
      `INSERT INTO "${s}".followup_policy
         (network_id, time_zone, holidays, acceptance, reminder_seconds, closure, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, now())
       ON CONFLICT (network_id) DO UPDATE SET time_zone = EXCLUDED.time_zone,
         holidays = EXCLUDED.holidays, acceptance = EXCLUDED.acceptance,
         reminder_seconds = EXCLUDED.reminder_seconds, closure = EXCLUDED.closure, updated_at = now()`,
      [
        policy.networkId,
        policy.timeZone,
        JSON.stringify(policy.holidays),
        JSON.stringify(policy.acceptance),
        JSON.stringify(policy.reminderSeconds),
        JSON.stringify(policy.closure),
      ],
    );
    await manager.query(`DELETE FROM "${s}".network_member WHERE network_id = $1`, [
      policy.networkId,
    ]);
    if (policy.organizations.length > 0) {
      await manager.query(
        `INSERT INTO "${s}".network_member (organization_id, network_id)
         SELECT unnest($1::text[]), $2`,
        [policy.organizations, policy.networkId],
      );
    }
    return (await this.get(manager, policy.networkId))!;
  }

  async delete(manager: EntityManager, networkId: string): Promise<boolean> {
    this.effectiveRead.forget(manager);
    const rows: unknown[] = await manager.query(
      `DELETE FROM "${this.schema}".followup_policy WHERE network_id = $1 RETURNING network_id`,
      [networkId],
    );
    return rows.length > 0;
  }
}
