import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { WEB_CONFIG, WebConfig } from '../web.config';
import type { Language, StoredUser, WebRole, WebUser } from './account.model';

interface UserRow {
  id: string;
  username: string;
  display_name: string;
  organization_id: string;
  role: WebRole;
  language: Language;
  password_hash: string | null;
  failed_attempts: number;
  locked_until: Date | null;
}

const COLUMNS = `id, username, display_name, organization_id, role, language, password_hash,
  failed_attempts, locked_until`;

const fromRow = (row: UserRow): StoredUser => ({
  id: row.id,
  username: row.username,
  displayName: row.display_name,
  organizationId: row.organization_id,
  role: row.role,
  language: row.language,
  passwordHash: row.password_hash,
  failedAttempts: row.failed_attempts,
  lockedUntil: row.locked_until ? new Date(row.locked_until) : null,
});

export const publicUser = (user: StoredUser): WebUser => ({
  id: user.id,
  username: user.username,
  displayName: user.displayName,
  organizationId: user.organizationId,
  role: user.role,
  language: user.language,
});

@Injectable()
export class UsersRepository {
  private readonly table: string;

  constructor(
    private readonly db: DataSource,
    @Inject(WEB_CONFIG) config: WebConfig,
  ) {
    this.table = `"${config.WEB_DB_SCHEMA}".users`;
  }

  async byUsername(username: string): Promise<StoredUser | null> {
    const rows: UserRow[] = await this.db.query(
      `SELECT ${COLUMNS} FROM ${this.table} WHERE username = $1`,
      [username],
    );
    return rows[0] ? fromRow(rows[0]) : null;
  }

  async byId(id: string): Promise<StoredUser | null> {
    const rows: UserRow[] = await this.db.query(
      `SELECT ${COLUMNS} FROM ${this.table} WHERE id = $1`,
      [id],
    );
    return rows[0] ? fromRow(rows[0]) : null;
  }

  async byOidcSubject(subject: string): Promise<StoredUser | null> {
    const rows: UserRow[] = await this.db.query(
      `SELECT ${COLUMNS} FROM ${this.table} WHERE oidc_subject = $1`,
      [subject],
    );
    return rows[0] ? fromRow(rows[0]) : null;
  }

  async ofOrganization(organizationId: string): Promise<StoredUser[]> {
    const rows: UserRow[] = await this.db.query(
      `SELECT ${COLUMNS} FROM ${this.table} WHERE organization_id = $1 ORDER BY username`,
      [organizationId],
    );
    return rows.map(fromRow);
  }

  /** Creates the user unless the username exists (seeding runs at every start). */
  async insertIfMissing(user: WebUser & { passwordHash: string | null }): Promise<boolean> {
    const rows: unknown[] = await this.db.query(
      `INSERT INTO ${this.table} (id, username, display_name, organization_id, role, language, password_hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (username) DO NOTHING RETURNING id`,
      [
        user.id,
        user.username,
        user.displayName,
        user.organizationId,
        user.role,
        user.language,
        user.passwordHash,
      ],
    );
    return rows.length > 0;
  }

  async insertOidcUser(user: {
    username: string;
    displayName: string;
    organizationId: string;
    role: WebRole;
    subject: string;
  }): Promise<void> {
    await this.db.query(
      `INSERT INTO ${this.table} (id, username, display_name, organization_id, role, oidc_subject)
       VALUES (gen_random_uuid(), $1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
      [user.username, user.displayName, user.organizationId, user.role, user.subject],
    );
  }

  async saveLockState(id: string, failedAttempts: number, lockedUntil: Date | null): Promise<void> {
    await this.db.query(
      `UPDATE ${this.table} SET failed_attempts = $2, locked_until = $3 WHERE id = $1`,
      [id, failedAttempts, lockedUntil],
    );
  }

  /** A new password set by an admin: the lock and the failure count go with the old one. */
  async setPassword(id: string, passwordHash: string): Promise<void> {
    await this.db.query(
      `UPDATE ${this.table} SET password_hash = $2, failed_attempts = 0, locked_until = NULL WHERE id = $1`,
      [id, passwordHash],
    );
  }

  async setLanguage(id: string, language: Language): Promise<void> {
    await this.db.query(`UPDATE ${this.table} SET language = $2 WHERE id = $1`, [id, language]);
  }
}
