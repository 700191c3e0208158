import { PLANNED_PER_EXECUTION } from '@carerelay/persistence';
import type { EntityManager } from 'typeorm';
import type { SqlParams } from './sql';

/**
 * The unique keys of conditional creates (type + normalised query → id): a concurrent twin of a
 * conditional create waits on the key's row instead of creating a second match.
 */
export class ConditionalKeyRepository {
  private readonly s: string;

  constructor(
    private readonly manager: EntityManager,
    schema: string,
  ) {
    this.s = `"${schema}"`;
  }

  /**
   * Claims a key for `id`. Returns false when another transaction holds it (this call waits for
   * that transaction to end first).
   */
  async claim(resourceType: string, queryKey: string, id: string): Promise<boolean> {
    const rows = await this.manager.query(
      `INSERT INTO ${this.s}.conditional_create_keys (resource_type, query_key, id) VALUES ($1, $2, $3)
       ON CONFLICT (resource_type, query_key) DO NOTHING RETURNING id`,
      [resourceType, queryKey, id],
    );
    return rows.length > 0;
  }

  /**
   * The ids `matchSql` finds and, only when it finds none, the claim of the key for `id` — one
   * round trip for the common case of a conditional create. `claimed` is false when something
   * matched or another transaction holds the key (this call then waited for it to end).
   */
  async matchOrClaim(
    matchSql: string,
    p: SqlParams,
    resourceType: string,
    queryKey: string,
    id: string,
  ): Promise<{ ids: string[]; claimed: boolean }> {
    const rows = (await this.manager.query(
      `${PLANNED_PER_EXECUTION}WITH matched AS (${matchSql}),
       claimed AS (
         INSERT INTO ${this.s}.conditional_create_keys (resource_type, query_key, id)
         SELECT ${p.add(resourceType)}, ${p.add(queryKey)}, ${p.add(id)}
         WHERE NOT EXISTS (SELECT 1 FROM matched)
         ON CONFLICT (resource_type, query_key) DO NOTHING RETURNING id)
       SELECT ARRAY(SELECT id FROM matched ORDER BY id) AS ids, EXISTS (SELECT 1 FROM claimed) AS claimed`,
      p.values,
    )) as { ids: string[]; claimed: boolean }[];
    return rows[0];
  }

  /** Waits for (and holds until commit) the row of a key. */
  async lock(resourceType: string, queryKey: string): Promise<void> {
    await this.manager.query(
      `SELECT id FROM ${this.s}.conditional_create_keys WHERE resource_type = $1 AND query_key = $2 FOR UPDATE`,
      [resourceType, queryKey],
    );
  }

  /** Points an existing key at `id`; false when there is no such key. */
  async move(resourceType: string, queryKey: string, id: string): Promise<boolean> {
    // TypeORM answers an UPDATE with [rows, affected].
    const [, affected] = (await this.manager.query(
      `UPDATE ${this.s}.conditional_create_keys SET id = $3, created_at = now()
       WHERE resource_type = $1 AND query_key = $2`,
      [resourceType, queryKey, id],
    )) as [unknown[], number];
    return affected > 0;
  }
}
