import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { WEB_CONFIG, WebConfig } from '../web.config';

/**
 * What a person did through the platform's client (EHR replays, capacity changes): the service
 * APIs see the platform, so the person is recorded here, with when and on what.
 */
@Injectable()
export class OperatorActionsRepository {
  private readonly schema: string;

  constructor(
    private readonly db: DataSource,
    @Inject(WEB_CONFIG) config: WebConfig,
  ) {
    this.schema = config.WEB_DB_SCHEMA;
  }

  async record(action: {
    username: string;
    organizationId: string;
    action: 'ehr-replay' | 'capacity-change' | 'contact-attempt';
    target: string;
    detail?: Record<string, unknown>;
  }): Promise<void> {
    await this.db.query(
      `INSERT INTO "${this.schema}".operator_actions
         (id, username, organization_id, action, target, detail)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [
        randomUUID(),
        action.username,
        action.organizationId,
        action.action,
        action.target,
        JSON.stringify(action.detail ?? {}),
      ],
    );
  }

  async latest(action: string, target: string): Promise<{ username: string; at: string } | null> {
    const [row]: Array<{ username: string; at: Date }> = await this.db.query(
      `SELECT username, at FROM "${this.schema}".operator_actions
        WHERE action = $1 AND target = $2 ORDER BY at DESC LIMIT 1`,
      [action, target],
    );
    return row ? { username: row.username, at: row.at.toISOString() } : null;
  }
}
