import { DataSource, EntityManager } from 'typeorm';
import type { JWK } from 'jose';
import { CredentialsUnavailable, type CredentialsCipher } from './credentials-cipher';
import type { EhrAuth, EhrEndpointInput, EhrMode } from './ehr-endpoint.input';

export interface EhrEndpoint {
  id: string;
  organizationId: string;
  baseUrl: string;
  auth: EhrAuth;
  tokenUrl?: string;
  clientId?: string;
  /** Whether a private key is stored (encrypted) for the EHR's token endpoint; never the key. */
  hasCredentials: boolean;
  scope?: string;
  modes: EhrMode[];
  platformOwnerReference: string;
  pollIntervalSeconds: number;
  enabled: boolean;
  pullWatermark?: string;
  /** The ServiceRequest search's own watermark (revocations of pulled referrals). */
  pullServiceRequestWatermark?: string;
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
  has_credentials: boolean;
  scope: string | null;
  modes: EhrMode[];
  platform_owner_reference: string;
  poll_interval_seconds: number;
  enabled: boolean;
  pull_watermark: Date | null;
  pull_service_request_watermark?: Date | null;
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
    hasCredentials: row.has_credentials === true,
    scope: row.scope ?? undefined,
    modes: row.modes,
    platformOwnerReference: row.platform_owner_reference,
    pollIntervalSeconds: row.poll_interval_seconds,
    enabled: row.enabled,
    pullWatermark: row.pull_watermark?.toISOString(),
    pullServiceRequestWatermark: row.pull_service_request_watermark?.toISOString(),
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
    /** Encrypts stored credentials (EHR_CREDENTIALS_KEY); without it smart-backend is refused. */
    private readonly cipher?: CredentialsCipher,
  ) {}

  private get t(): string {
    return `"${this.schema}".ehr_endpoints`;
  }

  private get c(): string {
    return `"${this.schema}".ehr_endpoint_credentials`;
  }

  /** The endpoint columns plus whether credentials are stored. */
  private get selectFrom(): string {
    return `SELECT e.*, EXISTS (SELECT 1 FROM ${this.c} c WHERE c.endpoint_id = e.id) AS has_credentials
      FROM ${this.t} e`;
  }

  /** Adds or replaces (same id) an endpoint; the pull watermark of a replaced one is kept. */
  async upsert(input: EhrEndpointInput): Promise<EhrEndpoint> {
    if (input.auth === 'smart-backend' && !this.cipher) throw new CredentialsUnavailable();
    return this.dataSource.transaction(async (manager) => {
      await manager.query(
        `INSERT INTO ${this.t} (id, organization_id, base_url, auth, token_url, client_id,
         scope, modes, platform_owner_reference, poll_interval_seconds, enabled)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       ON CONFLICT (id) DO UPDATE SET organization_id = EXCLUDED.organization_id,
         base_url = EXCLUDED.base_url, auth = EXCLUDED.auth, token_url = EXCLUDED.token_url,
         client_id = EXCLUDED.client_id,
         scope = EXCLUDED.scope, modes = EXCLUDED.modes,
         platform_owner_reference = EXCLUDED.platform_owner_reference,
         poll_interval_seconds = EXCLUDED.poll_interval_seconds, enabled = EXCLUDED.enabled,
         -- A registration changed is polled afresh: the old endpoint's error is no longer news.
         next_poll_at = now(), last_poll_error = NULL`,
        [
          input.id,
          input.organizationId,
          input.baseUrl,
          input.auth,
          input.auth === 'smart-backend' ? input.tokenUrl : null,
          input.auth === 'smart-backend' ? input.clientId : null,
          input.scope ?? null,
          input.modes,
          input.platformOwnerReference ?? `Organization/${this.platformOrganizationId}`,
          input.pollIntervalSeconds ?? 900,
          input.enabled ?? true,
        ],
      );
      if (input.auth === 'smart-backend' && this.cipher) {
        const { keyId, ciphertext } = this.cipher.encrypt(
          input.id,
          JSON.stringify(input.privateJwk),
        );
        await manager.query(
          `INSERT INTO ${this.c} (endpoint_id, key_id, private_jwk_ciphertext) VALUES ($1, $2, $3)
           ON CONFLICT (endpoint_id) DO UPDATE SET key_id = EXCLUDED.key_id,
             private_jwk_ciphertext = EXCLUDED.private_jwk_ciphertext, updated_at = now()`,
          [input.id, keyId, ciphertext],
        );
      } else {
        await manager.query(`DELETE FROM ${this.c} WHERE endpoint_id = $1`, [input.id]);
      }
      const [row] = (await manager.query(`${this.selectFrom} WHERE e.id = $1`, [
        input.id,
      ])) as Row[];
      return endpointOf(row);
    });
  }

  /** The endpoint's private JWK, decrypted; CredentialsUnavailable when none can be read. */
  async privateJwkOf(id: string): Promise<JWK> {
    const [row] = (await this.dataSource.query(
      `SELECT key_id, private_jwk_ciphertext FROM ${this.c} WHERE endpoint_id = $1`,
      [id],
    )) as { key_id: string; private_jwk_ciphertext: string }[];
    if (!row || !this.cipher) throw new CredentialsUnavailable();
    return JSON.parse(this.cipher.decrypt(id, row.key_id, row.private_jwk_ciphertext)) as JWK;
  }

  /** Re-encrypts every stored credential under the current key (after a key rotation). */
  async reencryptAll(): Promise<number> {
    const cipher = this.cipher;
    if (!cipher) throw new CredentialsUnavailable();
    return this.dataSource.transaction(async (manager) => {
      const rows = (await manager.query(
        `SELECT endpoint_id, key_id, private_jwk_ciphertext FROM ${this.c} FOR UPDATE`,
      )) as { endpoint_id: string; key_id: string; private_jwk_ciphertext: string }[];
      let changed = 0;
      for (const row of rows) {
        if (row.key_id === cipher.keyId) continue;
        const plain = cipher.decrypt(row.endpoint_id, row.key_id, row.private_jwk_ciphertext);
        const { keyId, ciphertext } = cipher.encrypt(row.endpoint_id, plain);
        await manager.query(
          `UPDATE ${this.c} SET key_id = $2, private_jwk_ciphertext = $3, updated_at = now()
           WHERE endpoint_id = $1`,
          [row.endpoint_id, keyId, ciphertext],
        );
        changed++;
      }
      return changed;
    });
  }

  async list(): Promise<EhrEndpoint[]> {
    const rows = (await this.dataSource.query(`${this.selectFrom} ORDER BY e.id`)) as Row[];
    return rows.map(endpointOf);
  }

  async get(id: string): Promise<EhrEndpoint | undefined> {
    const [row] = (await this.dataSource.query(`${this.selectFrom} WHERE e.id = $1`, [
      id,
    ])) as Row[];
    return row ? endpointOf(row) : undefined;
  }

  /** Enabled push endpoints of an organization (inside the caller's transaction). */
  async pushEndpointsOf(manager: EntityManager, organizationId: string): Promise<EhrEndpoint[]> {
    const rows = (await manager.query(
      `${this.selectFrom} WHERE e.organization_id = $1 AND e.enabled AND 'push' = ANY(e.modes)`,
      [organizationId],
    )) as Row[];
    return rows.map(endpointOf);
  }

  /** Enabled endpoints of an organization, whatever their modes (inside the caller's transaction). */
  async enabledEndpointsOf(manager: EntityManager, organizationId: string): Promise<EhrEndpoint[]> {
    const rows = (await manager.query(
      `${this.selectFrom} WHERE e.organization_id = $1 AND e.enabled`,
      [organizationId],
    )) as Row[];
    return rows.map(endpointOf);
  }

  /** Every endpoint with the digest of what was last published of it into the FHIR API. */
  async publicationStates(): Promise<Array<EhrEndpoint & { publishedDigest?: string }>> {
    const rows = (await this.dataSource.query(`${this.selectFrom} ORDER BY e.id`)) as Array<
      Row & { fhir_endpoint_published: string | null }
    >;
    return rows.map((row) => ({
      ...endpointOf(row),
      publishedDigest: row.fhir_endpoint_published ?? undefined,
    }));
  }

  /** Records what of the endpoint was last published into the FHIR API. */
  async markPublished(id: string, digest: string): Promise<void> {
    await this.dataSource.query(`UPDATE ${this.t} SET fhir_endpoint_published = $2 WHERE id = $1`, [
      id,
      digest,
    ]);
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
       RETURNING e.*, EXISTS (SELECT 1 FROM ${this.c} c WHERE c.endpoint_id = e.id) AS has_credentials`,
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

  /** Moves the watermark (of the Task search, or of the ServiceRequest search) forward only, durably. */
  async advanceWatermark(
    manager: EntityManager,
    id: string,
    lastUpdated: string,
    search: 'Task' | 'ServiceRequest' = 'Task',
  ): Promise<void> {
    const column = search === 'Task' ? 'pull_watermark' : 'pull_service_request_watermark';
    await manager.query(
      `UPDATE ${this.t} SET ${column} = GREATEST(COALESCE(${column}, $2::timestamptz), $2::timestamptz)
       WHERE id = $1`,
      [id, lastUpdated],
    );
  }
}
