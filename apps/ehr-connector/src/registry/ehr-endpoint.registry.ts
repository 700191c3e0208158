import { DataSource, EntityManager } from 'typeorm';
import type { EhrAuth, EhrEndpointInput, EhrMode } from './ehr-endpoint.input';

/** The endpoint would collide with another one (same base URL). */
export class EhrEndpointConflictError extends Error {
  override name = 'EhrEndpointConflictError';
}

export interface EhrEndpoint {
  id: string;
  organizationId: string;
  baseUrl: string;
  auth: EhrAuth;
  tokenUrl?: string;
  clientId?: string;
  privateJwkFile?: string;
  scope?: string;
  modes: EhrMode[];
  platformOwnerReference: string;
  pollIntervalSeconds: number;
  enabled: boolean;
  pullWatermark?: string;
  lastPollAt?: string;
  lastPollError?: string;
}

interface Row {
  id: string;
  organization_id: string;
  base_url: string;
  auth: EhrAuth;
  token_url: string | null;
  client_id: string | null;
  private_jwk_file: string | null;
  scope: string | null;
  modes: EhrMode[];
  platform_owner_reference: string;
  poll_interval_seconds: number;
  enabled: boolean;
  pull_watermark: Date | null;
  last_poll_at: Date | null;
  last_poll_error: string | null;
}

export function endpointOf(row: Row): EhrEndpoint {
  return {
    id: row.id,
    organizationId: row.organization_id,
    baseUrl: row.base_url,
    auth: row.auth,
    tokenUrl: row.token_url ?? undefined,
    clientId: row.client_id ?? undefined,
    privateJwkFile: row.private_jwk_file ?? undefined,
    scope: row.scope ?? undefined,
    modes: row.modes,
    platformOwnerReference: row.platform_owner_reference,
    pollIntervalSeconds: row.poll_interval_seconds,
    enabled: row.enabled,
    pullWatermark: row.pull_watermark?.toISOString(),
    lastPollAt: row.last_poll_at?.toISOString(),
    lastPollError: row.last_poll_error ?? undefined,
  };
}

/** The registry of EHR endpoints (table ehr_endpoints of the connector's schema). */
export class EhrEndpointRegistry {
  constructor(
    private readonly dataSource: DataSource,
    private readonly schema: string,
    private readonly platformOrganizationId: string,
  ) {}

  private get t(): string {
    return `"${this.schema}".ehr_endpoints`;
  }

  /** Adds or replaces (same id) an endpoint; the pull watermark of a replaced one is kept. */
  async upsert(input: EhrEndpointInput): Promise<EhrEndpoint> {
    const [row] = (await this.dataSource
      .query(
        `INSERT INTO ${this.t} (id, organization_id, base_url, auth, token_url, client_id,
         private_jwk_file, scope, modes, platform_owner_reference, poll_interval_seconds, enabled)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (id) DO UPDATE SET organization_id = EXCLUDED.organization_id,
         base_url = EXCLUDED.base_url, auth = EXCLUDED.auth, token_url = EXCLUDED.token_url,
         client_id = EXCLUDED.client_id, private_jwk_file = EXCLUDED.private_jwk_file,
         scope = EXCLUDED.scope, modes = EXCLUDED.modes,
         platform_owner_reference = EXCLUDED.platform_owner_reference,
         poll_interval_seconds = EXCLUDED.poll_interval_seconds, enabled = EXCLUDED.enabled,
         next_poll_at = now()
       RETURNING *`,
        [
          input.id,
          input.organizationId,
          input.baseUrl,
          input.auth,
          input.auth === 'smart-backend' ? input.tokenUrl : null,
          input.auth === 'smart-backend' ? input.clientId : null,
          input.auth === 'smart-backend' ? input.privateJwkFile : null,
          input.scope ?? null,
          input.modes,
          input.platformOwnerReference ?? `Organization/${this.platformOrganizationId}`,
          input.pollIntervalSeconds ?? 900,
          input.enabled ?? true,
        ],
      )
      .catch((error: unknown) => {
        // base_url is UNIQUE: two endpoints polling one server would pull every referral twice.
        if ((error as { driverError?: { code?: string } }).driverError?.code === '23505')
          throw new EhrEndpointConflictError(
            `baseUrl ${input.baseUrl} is already registered for another endpoint`,
          );
        throw error;
      })) as Row[];
    return endpointOf(row);
  }

  async list(): Promise<EhrEndpoint[]> {
    const rows = (await this.dataSource.query(`SELECT * FROM ${this.t} ORDER BY id`)) as Row[];
    return rows.map(endpointOf);
  }

  async get(id: string): Promise<EhrEndpoint | undefined> {
    const [row] = (await this.dataSource.query(`SELECT * FROM ${this.t} WHERE id = $1`, [
      id,
    ])) as Row[];
    return row ? endpointOf(row) : undefined;
  }

  /** Enabled push endpoints of an organization (inside the caller's transaction). */
  async pushEndpointsOf(manager: EntityManager, organizationId: string): Promise<EhrEndpoint[]> {
    const rows = (await manager.query(
      `SELECT * FROM ${this.t} WHERE organization_id = $1 AND enabled AND 'push' = ANY(modes)`,
      [organizationId],
    )) as Row[];
    return rows.map(endpointOf);
  }

  /**
   * Claims the pull endpoints whose poll is due: moves their next poll one interval ahead in a
   * short transaction, so that two connector instances do not poll the same EHR at once.
   */
  async claimDuePulls(limit = 10): Promise<EhrEndpoint[]> {
    // TypeORM answers an UPDATE … RETURNING with [rows, affected].
    const [rows] = (await this.dataSource.query(
      `UPDATE ${this.t} e SET next_poll_at = now() + make_interval(secs => e.poll_interval_seconds),
         last_poll_at = now()
       WHERE e.id IN (SELECT id FROM ${this.t} WHERE enabled AND 'pull' = ANY(modes)
         AND next_poll_at <= now() ORDER BY next_poll_at LIMIT $1 FOR UPDATE SKIP LOCKED)
       RETURNING e.*`,
      [limit],
    )) as [Row[], number];
    return rows.map(endpointOf);
  }

  async recordPoll(id: string, error?: string): Promise<void> {
    await this.dataSource.query(`UPDATE ${this.t} SET last_poll_error = $2 WHERE id = $1`, [
      id,
      error?.slice(0, 2000) ?? null,
    ]);
  }

  /** Moves the watermark forward only (never back), durably. */
  async advanceWatermark(manager: EntityManager, id: string, lastUpdated: string): Promise<void> {
    await manager.query(
      `UPDATE ${this.t} SET pull_watermark = GREATEST(COALESCE(pull_watermark, $2::timestamptz), $2::timestamptz)
       WHERE id = $1`,
      [id, lastUpdated],
    );
  }
}
