import type { Resource } from '@medplum/fhirtypes';
import type { EntityManager } from 'typeorm';
import type { SearchIndexRow } from '@carerelay/fhir';
import { OUTBOX_INSERT_COLUMNS, type PreparedOutboxEvent } from '@carerelay/messaging';
import type { RequestActor } from '../request-actor';
import { disclosureGroups, readableFilter } from './consent-access';
import type { DisclosureGroup } from './disclosure.service';
import { historyKeys } from './search-sql';
import { type KeysetPosition, keysetPage } from './search.repository';
import { SqlParams } from './sql';
import {
  RESOURCE_COLUMNS,
  type ResourceRow,
  type StoredResource,
  toStored,
  type WriteMethod,
} from './stored-resource.model';
import type { ResourceOrganizations } from './visibility';

const HISTORY_COLUMNS = `h.resource_type, h.id, h.version_id, h.deleted, h.method, h.content,
  h.requester_org, h.owner_org, h.other_orgs, r.patient_id`;

/** A search index row's columns besides its resource's key, with their types, in INSERT order. */
const INDEX_COLUMN_TYPES = {
  param: 'text',
  type: 'text',
  system: 'text',
  code: 'text',
  value_string: 'text',
  value_string_normalized: 'text',
  value_reference: 'text',
  value_date_start: 'timestamptz',
  value_date_end: 'timestamptz',
  value_number: 'float8',
  composite_group: 'integer',
  component: 'integer',
} as const;
const INDEX_COLUMNS = Object.keys(INDEX_COLUMN_TYPES);
/** The recordset definition that reads index rows from a JSON array. */
const INDEX_RECORD = Object.entries(INDEX_COLUMN_TYPES)
  .map(([column, type]) => `${column} ${type}`)
  .join(', ');

/**
 * meta.lastUpdated comes from the database, stamped under the same rule as the safe horizon of
 * `_lastUpdated` searches (SearchRepository.safeHorizon): the clock is read only once the
 * transaction holds its xid (the CASE orders the two), so a writer in flight is always visible
 * to the horizon as an xid holder whose xact_start precedes its stamp. Stamping at commit order
 * instead would serialise every writer on one lock; this costs the intake nothing (it is part of
 * saveVersion's one statement). Every version of one transaction takes the first one's stamp
 * (a transaction-local setting), as one instant for the whole transaction.
 */
const STAMP_CTE = `stamp AS MATERIALIZED (
  SELECT COALESCE(NULLIF(current_setting('carerelay.stamp', true), ''),
    set_config('carerelay.stamp',
      CASE WHEN pg_current_xact_id() IS NOT NULL THEN
        to_char(date_trunc('milliseconds', clock_timestamp()) AT TIME ZONE 'UTC',
          'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') END,
      true)) AS at)`;
/** What `_history` reads: `since` and `horizon` bound the stamps (from, before). */
export interface HistoryQuery {
  resourceType: string;
  id?: string;
  since?: string;
  horizon?: string;
  count: number;
  offset: number;
  keyset?: KeysetPosition;
}

/** A page of `_history`, with each entry's key (historyKeys) and whether more follow. */
export interface HistoryPage {
  entries: StoredResource[];
  keys: (string | null)[][];
  more: boolean;
  total: number;
  /** A CBO's versions grouped as the consent decision sees them (for the total it is shown). */
  groups?: DisclosureGroup[];
}

/** One version as written: the row of `resources` (current) and of `resource_history`. */
export interface VersionRow {
  resourceType: string;
  id: string;
  versionId: number;
  deleted: boolean;
  content: Resource;
  orgs: ResourceOrganizations;
  patientId: string | null;
  method: WriteMethod;
}

/**
 * The SQL of the versioned resources of one transaction: `resources` (current versions),
 * `resource_history` and `search_index`. Every read is limited to what the actor may read.
 */
export class ResourceRepository {
  private readonly s: string;

  constructor(
    private readonly manager: EntityManager,
    private readonly actor: RequestActor,
    private readonly schema: string,
  ) {
    this.s = `"${schema}"`;
  }

  private async rows(sql: string, params: unknown[]): Promise<ResourceRow[]> {
    return (await this.manager.query(sql, params)) as ResourceRow[];
  }

  /** The current version (deleted or not) if the actor may see it; `forUpdate` locks the row. */
  async current(
    resourceType: string,
    id: string,
    forUpdate: boolean,
  ): Promise<StoredResource | undefined> {
    const p = new SqlParams();
    const sql = `SELECT ${RESOURCE_COLUMNS} FROM ${this.s}.resources r
      WHERE r.resource_type = ${p.add(resourceType)} AND r.id = ${p.add(id)}
        AND ${readableFilter(this.actor, 'r', p, this.schema)}${forUpdate ? ' FOR UPDATE' : ''}`;
    const [row] = await this.rows(sql, p.values);
    return row ? toStored(row) : undefined;
  }

  /** Locks the current rows of these (unique) resources that exist, in (type, id) order. */
  async lockInOrder(keys: Array<{ resourceType: string; id: string }>): Promise<void> {
    await this.manager.query(
      `SELECT 1 FROM ${this.s}.resources r
        JOIN unnest($1::text[], $2::text[]) AS k(resource_type, id)
          ON r.resource_type = k.resource_type AND r.id = k.id
        ORDER BY r.resource_type COLLATE "C", r.id COLLATE "C"
        FOR UPDATE OF r`,
      [keys.map((k) => k.resourceType), keys.map((k) => k.id)],
    );
  }

  /** Does a resource with this id exist at all (visible or not)? */
  async exists(resourceType: string, id: string): Promise<boolean> {
    const rows = await this.manager.query(
      `SELECT 1 FROM ${this.s}.resources WHERE resource_type = $1 AND id = $2`,
      [resourceType, id],
    );
    return rows.length > 0;
  }

  /** One version, if the actor may see the resource (judged on its current version). */
  async version(
    resourceType: string,
    id: string,
    versionId: number,
  ): Promise<StoredResource | undefined> {
    const p = new SqlParams();
    const sql = `SELECT ${HISTORY_COLUMNS}
      FROM ${this.s}.resource_history h
      JOIN ${this.s}.resources r ON r.resource_type = h.resource_type AND r.id = h.id
      WHERE h.resource_type = ${p.add(resourceType)} AND h.id = ${p.add(id)}
        AND h.version_id = ${p.add(versionId)} AND ${readableFilter(this.actor, 'r', p, this.schema)}`;
    const [row] = await this.rows(sql, p.values);
    return row ? toStored(row) : undefined;
  }

  /**
   * `_history` of one resource or of a type: newest first (historyKeys), visible resources only,
   * paged by keyset; with `horizon`, only versions stamped before it (SearchRepository.safeHorizon).
   */
  async history(query: HistoryQuery): Promise<HistoryPage> {
    const p = new SqlParams();
    const where = [`h.resource_type = ${p.add(query.resourceType)}`];
    if (query.id !== undefined) where.push(`h.id = ${p.add(query.id)}`);
    if (query.since) where.push(`h.last_updated >= ${p.add(query.since)}::timestamptz`);
    if (query.horizon) where.push(`h.last_updated < ${p.add(query.horizon)}::timestamptz`);
    where.push(readableFilter(this.actor, 'r', p, this.schema));
    const from = `FROM ${this.s}.resource_history h
      JOIN ${this.s}.resources r ON r.resource_type = h.resource_type AND r.id = h.id
      WHERE ${where.join(' AND ')}`;
    let total: number;
    let groups: DisclosureGroup[] | undefined;
    if (this.actor.role === 'cbo') {
      // What the consent decision looks at, so that the total counts what a CBO is shown.
      groups = await disclosureGroups(
        this.manager,
        from,
        p.values,
        'h',
        'CASE WHEN h.deleted THEN NULL ELSE r.patient_id END',
      );
      total = groups.reduce((sum, group) => sum + group.count, 0);
    } else {
      const [{ n }] = await this.manager.query(`SELECT count(*)::int AS n ${from}`, p.values);
      total = n as number;
    }
    const page = await keysetPage<ResourceRow>(this.manager, {
      select: HISTORY_COLUMNS,
      from,
      keys: historyKeys('h', this.schema, p),
      keyset: query.keyset,
      count: query.count,
      offset: query.offset,
      p,
    });
    return {
      entries: page.rows.map(toStored),
      keys: page.keys,
      more: page.more,
      total,
      groups,
    };
  }

  /**
   * Stores a version: the current row (inserted on a create, else updated), its history row and
   * its search index (replaced; none for a deletion). Returns the version's meta.lastUpdated,
   * which the database stamps (`version.lastUpdated` and the event's are placeholders).
   */
  async saveVersion(
    version: VersionRow,
    created: boolean,
    searchIndex: readonly SearchIndexRow[],
    event: PreparedOutboxEvent<unknown>,
  ): Promise<string> {
    const { resourceType, id, orgs } = version;
    const stamp = '(SELECT at FROM stamp)';
    const content = `jsonb_set($5::jsonb, '{meta,lastUpdated}', to_jsonb(${stamp}))`;
    // The change event carries the stamp twice: its lastUpdated and its resource's meta.
    const payload = `jsonb_set(jsonb_set($17::jsonb, '{lastUpdated}', to_jsonb(${stamp})),
      '{resource,meta,lastUpdated}', to_jsonb(${stamp}))`;
    // One statement, one round trip: the stamp, the current row, its history row, its search
    // index and its change event (with the NOTIFY that wakes the outbox relay, delivered on
    // commit). The CTEs share one snapshot, so the DELETE removes only the index rows of the
    // previous version.
    const current = created
      ? `INSERT INTO ${this.s}.resources (resource_type, id, version_id, last_updated, deleted, content,
           requester_org, owner_org, other_orgs, patient_id)
         VALUES ($1, $2, $3, ${stamp}::timestamptz, $4, ${content}, $6, $7, $8, $9)`
      : `UPDATE ${this.s}.resources SET version_id = $3, last_updated = ${stamp}::timestamptz,
           deleted = $4, content = ${content}, requester_org = $6, owner_org = $7, other_orgs = $8,
           patient_id = $9
         WHERE resource_type = $1 AND id = $2`;
    // An update changes few of a resource's index rows (a Task's status, its dates): only the rows
    // that differ are deleted and inserted, not all of them (about 26 for a Task), each insert
    // costing five index entries and its WAL.
    const sameRow = (a: string, b: string) =>
      INDEX_COLUMNS.map((c) => `${a}.${c} IS NOT DISTINCT FROM ${b}.${c}`).join(' AND ');
    const previousIndex = created
      ? ''
      : `previous_index AS (DELETE FROM ${this.s}.search_index o
           WHERE o.resource_type = $1 AND o.id = $2
             AND NOT EXISTS (SELECT 1 FROM new_index x WHERE ${sameRow('x', 'o')})),`;
    const unchanged = created
      ? ''
      : `WHERE NOT EXISTS (SELECT 1 FROM ${this.s}.search_index o
           WHERE o.resource_type = $1 AND o.id = $2 AND ${sameRow('x', 'o')})`;
    const [row] = (await this.manager.query(
      `WITH ${STAMP_CTE},
       current_row AS (${current}),
       new_index AS (SELECT * FROM jsonb_to_recordset($11::jsonb) AS x(${INDEX_RECORD})),
       ${previousIndex}
       history_row AS (
         INSERT INTO ${this.s}.resource_history (resource_type, id, version_id, last_updated, deleted,
           content, requester_org, owner_org, other_orgs, method)
         VALUES ($1, $2, $3, ${stamp}::timestamptz, $4, ${content}, $6, $7, $8, $10)),
       index_rows AS (
         INSERT INTO ${this.s}.search_index (resource_type, id, ${INDEX_COLUMNS.join(', ')})
         SELECT $1, $2, ${INDEX_COLUMNS.map((c) => `x.${c}`).join(', ')}
         FROM new_index x ${unchanged}),
       event_row AS (
         INSERT INTO ${this.s}.outbox (${OUTBOX_INSERT_COLUMNS})
         VALUES ($12, $13, $14, $15, $16, ${payload}))
       SELECT pg_notify($18, ''), ${stamp} AS last_updated`,
      [
        resourceType,
        id,
        version.versionId,
        version.deleted,
        version.content,
        orgs.requesterOrg,
        orgs.ownerOrg,
        orgs.otherOrgs,
        version.patientId,
        version.method,
        JSON.stringify(searchIndex),
        ...event.values,
        event.channel,
      ],
    )) as { last_updated: string }[];
    return row.last_updated;
  }
}
