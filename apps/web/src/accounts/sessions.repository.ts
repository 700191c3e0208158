import { createHash, randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { WEB_CONFIG, WebConfig } from '../web.config';
import type { Language, SessionUser, WebRole } from './account.model';

/** The cookie holds the session id; the table only its SHA-256, so a read of it signs no one in. */
export const hashSessionId = (id: string): string =>
  createHash('sha256').update(id, 'utf8').digest('base64url');

@Injectable()
export class SessionsRepository {
  private readonly schema: string;

  constructor(
    private readonly db: DataSource,
    @Inject(WEB_CONFIG) private readonly config: WebConfig,
  ) {
    this.schema = config.WEB_DB_SCHEMA;
  }

  /** A new session: returns the id for the cookie (never stored) and the CSRF token. */
  async create(userId: string): Promise<{ id: string; csrfToken: string; expiresAt: Date }> {
    const id = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + this.config.WEB_SESSION_TTL_MINUTES * 60_000);
    await this.db.query(
      `INSERT INTO "${this.schema}".sessions (id_hash, user_id, csrf_token, expires_at)
       VALUES ($1, $2, $3, $4)`,
      [hashSessionId(id), userId, csrfToken, expiresAt],
    );
    // Expired sessions are swept as new ones start.
    await this.db.query(`DELETE FROM "${this.schema}".sessions WHERE expires_at < now()`);
    return { id, csrfToken, expiresAt };
  }

  /** The person of an unexpired session. */
  async find(id: string): Promise<SessionUser | null> {
    const rows: Array<{
      id: string;
      username: string;
      display_name: string;
      organization_id: string;
      role: WebRole;
      language: Language;
      csrf_token: string;
      id_hash: string;
    }> = await this.db.query(
      `SELECT u.id, u.username, u.display_name, u.organization_id, u.role, u.language,
              s.csrf_token, s.id_hash
         FROM "${this.schema}".sessions s JOIN "${this.schema}".users u ON u.id = s.user_id
        WHERE s.id_hash = $1 AND s.expires_at > now()`,
      [hashSessionId(id)],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      id: row.id,
      username: row.username,
      displayName: row.display_name,
      organizationId: row.organization_id,
      role: row.role,
      language: row.language,
      csrfToken: row.csrf_token,
      sessionHash: row.id_hash,
    };
  }

  async delete(sessionHash: string): Promise<void> {
    await this.db.query(`DELETE FROM "${this.schema}".sessions WHERE id_hash = $1`, [sessionHash]);
  }

  async deleteOfUser(userId: string): Promise<void> {
    await this.db.query(`DELETE FROM "${this.schema}".sessions WHERE user_id = $1`, [userId]);
  }
}
