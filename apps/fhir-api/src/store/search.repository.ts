import { PLANNED_PER_EXECUTION } from '@carerelay/persistence';
import type { EntityManager } from 'typeorm';
import { OUTBOX_RELAY_APPLICATION_SUFFIX } from '@carerelay/messaging';
import { badRequest, type FhirSearchRequest } from '@carerelay/fhir';
import type { RequestActor } from '../request-actor';
import { LABELS_NEEDING_EXPLICIT_CONSENT } from '@carerelay/consent';
import {
  disclosureGroups,
  matchesOnPatientData,
  readableFilter,
  securityCodesSql,
} from './consent-access';
import { filterCondition, keysetCondition, orderBy, type SortKey, sortKeys } from './search-sql';
import type { DisclosureGroup } from './disclosure.service';
import { SqlParams } from './sql';
import {
  RESOURCE_COLUMNS,
  type ResourceRow,
  type StoredResource,
  toStored,
} from './stored-resource.model';

/** A keyset position: the sort key of a row (sortKeys, as text), read after or before it. */
export interface KeysetPosition {
  direction: 'after' | 'before';
  /** Null: from the end (a `last` link). */
  key: (string | null)[] | null;
  /** The safe horizon the first page was read up to: its next pages read the same listing. */
  horizon?: string;
}

/** A page of matches, in order, with each one's sort key; `more`: rows follow it, read onwards. */
export interface SearchPage {
  matches: StoredResource[];
  keys: (string | null)[][];
  total: number;
  more: boolean;
  /** A CBO's matches grouped as the consent decision sees them (for the total it is shown). */
  groups?: DisclosureGroup[];
}

/**
 * One page in the order of `keys`, read one row long (to know whether another follows in the
 * direction it was read): the first page (after `offset` rows), or the page after/before a keyset
 * position. `select` and `from` are the statement's columns and its FROM ... WHERE; each row comes
 * back with its key as text (`sort_key`).
 */
export async function keysetPage<Row>(
  manager: EntityManager,
  query: {
    select: string;
    from: string;
    keys: SortKey[];
    keyset?: KeysetPosition;
    count: number;
    offset: number;
    p: SqlParams;
  },
): Promise<{ rows: Row[]; keys: (string | null)[][]; more: boolean }> {
  const { keys, keyset, p } = query;
  // A cursor is the server's own (authenticated), yet of one order: never read it in another.
  if (keyset?.key && keyset.key.length !== keys.length)
    throw badRequest('Invalid _cursor for this _sort', undefined, 'value');
  const backwards = keyset?.direction === 'before';
  const after = keyset?.key ? ` AND ${keysetCondition(keys, keyset.key, keyset.direction, p)}` : '';
  const rows = (await manager.query(
    `${PLANNED_PER_EXECUTION}SELECT ${query.select}, ARRAY[${keys.map((k) => k.text).join(', ')}]::text[] AS sort_key
     ${query.from}${after} ORDER BY ${orderBy(keys, backwards)}
     LIMIT ${p.add(query.count + 1)} OFFSET ${p.add(keyset ? 0 : query.offset)}`,
    p.values,
  )) as (Row & { sort_key: (string | null)[] })[];
  const page = rows.slice(0, query.count);
  if (backwards) page.reverse();
  return { rows: page, keys: page.map((row) => row.sort_key), more: rows.length > query.count };
}

/**
 * A search that filters on `_lastUpdated`, or walks it oldest first, is read up to the safe
 * horizon: what a poller sees at an instant never grows behind it later (a slow writer's earlier
 * stamp). A newest-first list (`_sort=-_lastUpdated` alone, an inbox) is not: it shows every
 * committed change at once, and the horizon (the oldest open writing transaction in the database)
 * would hide the newest ones for as long as any transaction stays open.
 */
export function usesLastUpdated(request: FhirSearchRequest): boolean {
  return (
    request.filters.some((f) => f.param === '_lastUpdated' && f.kind !== 'chain') ||
    request.sort.some((s) => s.param === '_lastUpdated' && !s.descending)
  );
}

/** The SQL of searches: current, non-deleted resources the actor may read. */
export class SearchRepository {
  private readonly s: string;

  constructor(
    private readonly manager: EntityManager,
    private readonly actor: RequestActor,
    private readonly schema: string,
  ) {
    this.s = `"${schema}"`;
  }

  private async rows(sql: string, params: unknown[]): Promise<StoredResource[]> {
    return ((await this.manager.query(sql, params)) as ResourceRow[]).map(toStored);
  }

  /**
   * The conditions of a search: its type, current, readable by the actor (matched on patient data
   * when a filter looks at what redaction hides), and its filters.
   */
  private matching(request: FhirSearchRequest, p: SqlParams): string {
    // What a chain goes through is matched on its own data: a redacted Task is not enough. And
    // the consent decision on labels (made in TypeScript, on what is returned) never sees it: a
    // CBO's chain goes through no data with a label that needs explicit consent, even consented.
    const readableTarget = (alias: string) => {
      const readable = readableFilter(this.actor, alias, p, this.schema, {
        matchedOnPatientData: true,
      });
      if (this.actor.role !== 'cbo') return readable;
      const sensitive = p.add([...LABELS_NEEDING_EXPLICIT_CONSENT]);
      return `(${readable} AND NOT (${securityCodesSql(alias)} && ${sensitive}::text[]))`;
    };
    return [
      `r.resource_type = ${p.add(request.resourceType)}`,
      'NOT r.deleted',
      // A sort key orders by the values it reads: like a filter, it may look at patient data.
      readableFilter(this.actor, 'r', p, this.schema, {
        matchedOnPatientData: matchesOnPatientData([...request.filters, ...request.sort]),
      }),
      ...request.filters.map((f) => filterCondition(f, this.schema, 'r', p, readableTarget)),
    ].join(' AND ');
  }

  /**
   * The total and (unless `countOnly`) one page of the matches, in `_sort` order (sortKeys): the
   * first page, or the page after/before a keyset position (`keyset`, from a cursor). A page is
   * read one row long, to know whether another follows in the direction it was read. Every
   * filter and the actor's read rule apply to every page: a position only says where to start.
   */
  async page(
    request: FhirSearchRequest,
    options: { withTotal: boolean; countOnly: boolean; keyset?: KeysetPosition },
  ): Promise<SearchPage> {
    const p = new SqlParams();
    const where = [this.matching(request, p)];
    if (usesLastUpdated(request)) {
      where.push(`r.last_updated < ${p.add(await this.safeHorizon())}::timestamptz`);
    }
    const from = `FROM ${this.s}.resources r WHERE ${where.join(' AND ')}`;
    let total = -1;
    let groups: DisclosureGroup[] | undefined;
    if (options.withTotal && this.actor.role === 'cbo') {
      // What the consent decision looks at, so that the total counts what a CBO is shown.
      groups = await disclosureGroups(this.manager, from, p.values, 'r', 'r.patient_id');
      total = groups.reduce((sum, group) => sum + group.count, 0);
    } else if (options.withTotal) {
      const [{ n }] = await this.manager.query(
        `${PLANNED_PER_EXECUTION}SELECT count(*)::int AS n ${from}`,
        p.values,
      );
      total = n as number;
    }
    if (options.countOnly) return { matches: [], keys: [], total, more: false, groups };
    const page = await keysetPage<ResourceRow>(this.manager, {
      select: RESOURCE_COLUMNS,
      from,
      keys: sortKeys(request.sort, this.schema, 'r', p),
      keyset: options.keyset,
      count: request.count,
      offset: request.offset,
      p,
    });
    return {
      matches: page.rows.map(toStored),
      keys: page.keys,
      total,
      more: page.more,
      groups,
    };
  }

  /**
   * The instant before which every write is committed: rows stamped earlier can no longer
   * appear, so a `_lastUpdated` poller that saw up to some instant misses nothing behind it.
   *
   * A writer stamps its rows (saveVersion) with the clock read *after* it took its transaction
   * id, so while it runs it is a backend with an xid whose xact_start precedes its stamp; one
   * that takes its xid after this statement read the backends stamps later than this
   * statement's start. Hence min(statement start, xact_start of every backend holding an xid),
   * both from the database's clock, as the stamps are. The page is read by a later statement,
   * whose snapshot holds every writer that was no longer running here. (The statistics snapshot
   * is cleared first: inside a transaction it would be the one of its first read.) The outbox
   * relays' own connections are left out: they stamp nothing, and a relay holds its claim's xid
   * while it publishes, so counting it held the horizon back behind writes already committed.
   */
  async safeHorizon(): Promise<string> {
    const [{ horizon }] = await this.manager.query(
      `SELECT CASE WHEN pg_stat_clear_snapshot()::text IS NOT NULL THEN
         to_char(date_trunc('milliseconds', least(statement_timestamp(),
           (SELECT min(a.xact_start) FROM pg_stat_activity a
            WHERE a.backend_xid IS NOT NULL AND a.pid <> pg_backend_pid()
              AND a.datname = current_database()
              AND a.application_name NOT LIKE '%' || $1))) AT TIME ZONE 'UTC',
           'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') END AS horizon`,
      [OUTBOX_RELAY_APPLICATION_SUFFIX],
    );
    return horizon as string;
  }

  /** The ids of the matches, at most `limit`. */
  async matchingIds(request: FhirSearchRequest, limit: number): Promise<string[]> {
    const p = new SqlParams();
    const rows = await this.manager.query(
      PLANNED_PER_EXECUTION + this.matchingIdsQuery(request, limit, p),
      p.values,
    );
    return (rows as { id: string }[]).map((row) => row.id);
  }

  /** The statement of matchingIds, for a caller that runs it inside a larger one. */
  matchingIdsQuery(request: FhirSearchRequest, limit: number, p: SqlParams): string {
    return `SELECT r.id FROM ${this.s}.resources r WHERE ${this.matching(request, p)} ORDER BY r.id LIMIT ${p.add(limit)}`;
  }

  /** The references the search parameter `param` of these resources holds. */
  async referencesFrom(sourceType: string, sourceIds: string[], param: string): Promise<string[]> {
    const refs: { value_reference: string }[] = await this.manager.query(
      `SELECT DISTINCT value_reference FROM ${this.s}.search_index
       WHERE resource_type = $1 AND id = ANY($2::text[]) AND param = $3 AND value_reference IS NOT NULL`,
      [sourceType, sourceIds, param],
    );
    return refs.map((r) => r.value_reference);
  }

  /** These resources (`types[i]/ids[i]`), current and readable. */
  async readable(types: string[], ids: string[]): Promise<StoredResource[]> {
    const p = new SqlParams();
    return this.rows(
      `SELECT ${RESOURCE_COLUMNS} FROM ${this.s}.resources r
      WHERE (r.resource_type, r.id) IN (SELECT * FROM unnest(${p.add(types)}::text[], ${p.add(ids)}::text[]))
        AND NOT r.deleted AND ${readableFilter(this.actor, 'r', p, this.schema)}`,
      p.values,
    );
  }

  /** The readable `sourceType` resources whose `param` references one of `targets` (at most 1000). */
  async referencing(
    sourceType: string,
    param: string,
    targets: string[],
  ): Promise<StoredResource[]> {
    const p = new SqlParams();
    return this.rows(
      `SELECT ${RESOURCE_COLUMNS} FROM ${this.s}.resources r
      WHERE r.resource_type = ${p.add(sourceType)} AND NOT r.deleted
        AND EXISTS (SELECT 1 FROM ${this.s}.search_index si
          WHERE si.resource_type = r.resource_type AND si.id = r.id AND si.param = ${p.add(param)}
            AND si.value_reference = ANY(${p.add(targets)}::text[]))
        AND ${readableFilter(this.actor, 'r', p, this.schema)}
      ORDER BY r.last_updated, r.id LIMIT 1000`,
      p.values,
    );
  }
}
