import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { WEB_CONFIG, WebConfig } from '../web.config';

export interface ReferralNote {
  id: string;
  author: string;
  text: string;
  at: string;
}

/** Notes on a referral, always of one organization: another organization's are never read. */
@Injectable()
export class NotesRepository {
  private readonly schema: string;

  constructor(
    private readonly db: DataSource,
    @Inject(WEB_CONFIG) config: WebConfig,
  ) {
    this.schema = config.WEB_DB_SCHEMA;
  }

  async add(note: {
    taskId: string;
    organizationId: string;
    username: string;
    displayName: string;
    text: string;
  }): Promise<void> {
    await this.db.query(
      `INSERT INTO "${this.schema}".referral_notes
         (id, task_id, organization_id, author_username, author_name, text)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [randomUUID(), note.taskId, note.organizationId, note.username, note.displayName, note.text],
    );
  }

  async of(organizationId: string, taskId: string): Promise<ReferralNote[]> {
    const rows: Array<{ id: string; author_name: string; text: string; created_at: Date }> =
      await this.db.query(
        `SELECT id, author_name, text, created_at FROM "${this.schema}".referral_notes
          WHERE organization_id = $1 AND task_id = $2 ORDER BY created_at, id LIMIT 500`,
        [organizationId, taskId],
      );
    return rows.map((r) => ({
      id: r.id,
      author: r.author_name,
      text: r.text,
      at: r.created_at.toISOString(),
    }));
  }
}
