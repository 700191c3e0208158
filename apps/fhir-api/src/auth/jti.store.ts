import { DataSource } from 'typeorm';

/**
 * Client-assertion `jti`s already used, kept until the assertion expires (an expired assertion
 * is refused anyway). `remember` is atomic: of two concurrent requests with the same jti exactly
 * one gets true.
 */
export class JtiStore {
  private lastPurge = 0;

  constructor(
    private readonly dataSource: DataSource,
    private readonly schema: string,
    private readonly purgeEveryMs = 60_000,
  ) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`invalid schema ${schema}`);
  }

  /** True when the jti was not seen before (and is now recorded); false on a replay. */
  async remember(clientId: string, jti: string, expiresAt: Date): Promise<boolean> {
    await this.purgeSometimes();
    const rows: unknown[] = await this.dataSource.query(
      `INSERT INTO "${this.schema}".auth_used_jti (client_id, jti, expires_at)
       VALUES ($1, $2, $3) ON CONFLICT (client_id, jti) DO NOTHING RETURNING jti`,
      [clientId, jti, expiresAt],
    );
    return rows.length === 1;
  }

  async purgeExpired(): Promise<number> {
    // Kept a minute past expiry so that clock skew between processes never re-opens a jti.
    const result: [unknown[], number] = await this.dataSource.query(
      `DELETE FROM "${this.schema}".auth_used_jti WHERE expires_at < now() - interval '1 minute'`,
    );
    return Array.isArray(result) ? (result[1] ?? 0) : 0;
  }

  private async purgeSometimes(): Promise<void> {
    const now = Date.now();
    if (now - this.lastPurge < this.purgeEveryMs) return;
    this.lastPurge = now;
    await this.purgeExpired();
  }
}
