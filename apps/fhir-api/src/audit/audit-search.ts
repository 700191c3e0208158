import type { AuditEvent, Bundle } from '@medplum/fhirtypes';
import { DataSource } from 'typeorm';
import { badRequest, notFound, searchScope } from '@carerelay/fhir';
import { assertScope } from '../auth/assert-scope';
import { SearchCursors } from '../interactions/search-cursor';
import type { RequestActor } from '../request-actor';
import { columnKey } from '../store/search-sql';
import { keysetPage } from '../store/search.repository';
import { SqlParams } from '../store/sql';

/**
 * Search of the audit trail: `GET /fhir/AuditEvent?agent=…&date=ge…&entity=…`. Only actors whose
 * scopes and role allow AuditEvent (coordinators and the platform) get an answer; everyone else
 * gets 403. Parameters (R4 AuditEvent search parameters, a supported subset):
 *
 *  - agent:   `Organization/<id>` or a client id (comma = OR)
 *  - entity:  `<Type>/<id>` (comma = OR)
 *  - date:    with prefixes eq (default), ne, gt, ge, lt, le; repeat to AND (`date=ge…&date=lt…`);
 *             a date without a time zone is read as UTC
 *  - action, outcome, subtype, _id (comma = OR)
 *  - _count (default 50, at most 200), _sort=date or -date (default -date); pages are linked
 *    by keyset cursors (`_cursor`, as searches of resources are); `_offset` for a first page
 * Anything else answers 400.
 */

export interface AuditQuery {
  agents: string[][];
  entities: string[][];
  dates: { prefix: DatePrefix; start: Date; end: Date }[];
  actions: string[][];
  outcomes: string[][];
  subtypes: string[][];
  ids: string[][];
  count: number;
  offset: number;
  cursor?: string;
  ascending: boolean;
}

type DatePrefix = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le';

export const AUDIT_DEFAULT_COUNT = 50;
export const AUDIT_MAX_COUNT = 200;

const DATE =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/** A FHIR date/dateTime search value as the half-open range [start, end) it covers. */
export function dateRange(value: string): { start: Date; end: Date } {
  const m = DATE.exec(value);
  if (!m) throw badRequest(`date: "${value}" is not a FHIR date or dateTime`, 'date');
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const year = Number(y);
  if (mo === undefined) return { start: utc(year, 0, 1), end: utc(year + 1, 0, 1) };
  const month = Number(mo) - 1;
  if (month < 0 || month > 11) throw badRequest(`date: "${value}" has no such month`, 'date');
  if (d === undefined) return { start: utc(year, month, 1), end: utc(year, month + 1, 1) };
  const day = Number(d);
  if (h === undefined) return { start: utc(year, month, day), end: utc(year, month, day + 1) };
  const iso = `${y}-${mo}-${d}T${h}:${mi}:${s ?? '00'}${frac ?? ''}${zone ?? 'Z'}`;
  const start = new Date(iso);
  if (Number.isNaN(start.getTime()))
    throw badRequest(`date: "${value}" is not a valid instant`, 'date');
  const precisionMs = s === undefined ? 60_000 : frac === undefined ? 1_000 : 1;
  return { start, end: new Date(start.getTime() + precisionMs) };
}

function utc(year: number, month: number, day: number): Date {
  return new Date(Date.UTC(year, month, day));
}

const ALLOWED = new Set([
  'agent',
  'entity',
  'date',
  'action',
  'outcome',
  'subtype',
  '_id',
  '_count',
  '_offset',
  '_cursor',
  '_sort',
  '_format',
]);

const orList = (value: string, name: string): string[] => {
  const list = value.split(',').map((v) => v.trim());
  if (list.some((v) => v === '' || v.length > 256))
    throw badRequest(`${name}: empty or overlong value`, name);
  return list;
};

export function parseAuditQuery(params: URLSearchParams): AuditQuery {
  const query: AuditQuery = {
    agents: [],
    entities: [],
    dates: [],
    actions: [],
    outcomes: [],
    subtypes: [],
    ids: [],
    count: AUDIT_DEFAULT_COUNT,
    offset: 0,
    ascending: false,
  };
  for (const [name, value] of params) {
    if (!ALLOWED.has(name)) {
      throw badRequest(
        `Unknown or unsupported search parameter for AuditEvent: ${name}`,
        name,
        'not-supported',
      );
    }
    switch (name) {
      case 'agent':
        query.agents.push(orList(value, name));
        break;
      case 'entity':
        query.entities.push(orList(value, name));
        break;
      case 'action':
        query.actions.push(orList(value, name));
        break;
      case 'outcome':
        query.outcomes.push(orList(value, name));
        break;
      case 'subtype':
        query.subtypes.push(orList(value, name).map((v) => v.replace(/^.*\|/, '')));
        break;
      case '_id':
        query.ids.push(orList(value, name));
        break;
      case 'date': {
        const m = /^(eq|ne|gt|ge|lt|le)?(.+)$/.exec(value);
        const prefix = (m?.[1] ?? 'eq') as DatePrefix;
        query.dates.push({ prefix, ...dateRange(m?.[2] ?? '') });
        break;
      }
      case '_count': {
        const n = Number(value);
        if (!/^\d+$/.test(value))
          throw badRequest('_count must be a non-negative integer', '_count');
        query.count = Math.min(n, AUDIT_MAX_COUNT);
        break;
      }
      case '_offset':
        if (!/^\d{1,9}$/.test(value))
          throw badRequest('_offset must be a non-negative integer', '_offset');
        query.offset = Number(value);
        break;
      case '_cursor':
        query.cursor = value;
        break;
      case '_sort':
        if (
          value !== 'date' &&
          value !== '-date' &&
          value !== '_lastUpdated' &&
          value !== '-_lastUpdated'
        ) {
          throw badRequest('_sort supports date and -date only', '_sort', 'not-supported');
        }
        query.ascending = !value.startsWith('-');
        break;
      default:
        break; // _format
    }
  }
  if (query.cursor !== undefined && params.has('_offset'))
    throw badRequest('_cursor and _offset cannot be combined', '_cursor');
  return query;
}

/** The WHERE clause of a parsed query (exported for tests). */
export function auditWhere(
  query: AuditQuery,
  p: SqlParams = new SqlParams(),
): { sql: string; params: unknown[] } {
  const and: string[] = [];
  for (const agents of query.agents) {
    const orgs = agents
      .filter((a) => a.startsWith('Organization/'))
      .map((a) => a.slice('Organization/'.length));
    const clients = agents.filter((a) => !a.startsWith('Organization/'));
    const or: string[] = [];
    if (orgs.length) or.push(`organization_id = ANY(${p.add(orgs)}::text[])`);
    if (clients.length) or.push(`client_id = ANY(${p.add(clients)}::text[])`);
    and.push(`(${or.join(' OR ')})`);
  }
  for (const entities of query.entities) {
    and.push(
      `entity_refs && ${p.add(entities.map((e) => e.replace(/\/_history\/.*$/, '')))}::text[]`,
    );
  }
  for (const list of query.actions) and.push(`action = ANY(${p.add(list)}::text[])`);
  for (const list of query.outcomes) and.push(`outcome = ANY(${p.add(list)}::text[])`);
  for (const list of query.subtypes) and.push(`subtype = ANY(${p.add(list)}::text[])`);
  for (const list of query.ids) {
    const uuids = list.filter((id) =>
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id),
    );
    and.push(uuids.length ? `id = ANY(${p.add(uuids)}::uuid[])` : 'FALSE');
  }
  for (const { prefix, start, end } of query.dates) {
    // Only the bounds a prefix uses become parameters (an unused $n has no type for PostgreSQL).
    const S = () => `${p.add(start.toISOString())}::timestamptz`;
    const E = () => `${p.add(end.toISOString())}::timestamptz`;
    switch (prefix) {
      case 'eq':
        and.push(`(recorded >= ${S()} AND recorded < ${E()})`);
        break;
      case 'ne':
        and.push(`NOT (recorded >= ${S()} AND recorded < ${E()})`);
        break;
      case 'gt':
        and.push(`recorded >= ${E()}`);
        break;
      case 'ge':
        and.push(`recorded >= ${S()}`);
        break;
      case 'lt':
        and.push(`recorded < ${S()}`);
        break;
      case 'le':
        and.push(`recorded < ${E()}`);
        break;
    }
  }
  return { sql: and.length ? and.join(' AND ') : 'TRUE', params: p.values };
}

export class AuditSearch {
  constructor(
    private readonly dataSource: DataSource,
    private readonly schema: string,
    private readonly cursors: SearchCursors = new SearchCursors(),
  ) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`invalid schema ${schema}`);
  }

  async search(
    actor: RequestActor,
    params: URLSearchParams,
    baseUrl: string,
  ): Promise<Bundle<AuditEvent>> {
    assertScope(actor, 'AuditEvent', 'search');
    const query = parseAuditQuery(params);
    const p = new SqlParams();
    const { sql } = auditWhere(query, p);
    const from = `FROM "${this.schema}".audit_events WHERE ${sql}`;
    const [{ total }] = (await this.dataSource.query(
      `SELECT count(*)::int AS total ${from}`,
      p.values,
    )) as { total: number }[];
    // Keyset paging (by the time recorded, then the insertion order): events written between
    // two pages shift nothing, where an offset would show some again.
    const scope = searchScope('AuditEvent', params);
    const keyset =
      query.cursor === undefined ? undefined : await this.cursors.decode(scope, query.cursor);
    const descending = !query.ascending;
    const found = await keysetPage<{ content: AuditEvent }>(this.dataSource.manager, {
      select: 'content',
      from,
      keys: [
        columnKey('recorded', 'timestamptz', descending),
        columnKey('seq', 'int8', descending),
      ],
      keyset,
      count: query.count,
      offset: query.offset,
      p,
    });
    const rows = found.rows;
    const link = await this.cursors.pageLinks(
      (page) => `${baseUrl}/AuditEvent?${page.toString()}`,
      scope,
      params,
      query,
      keyset,
      found,
    );
    return {
      resourceType: 'Bundle',
      type: 'searchset',
      total,
      link,
      entry: rows.map(({ content }) => ({
        fullUrl: `${baseUrl}/AuditEvent/${content.id}`,
        resource: content,
        search: { mode: 'match' },
      })),
    };
  }

  async read(actor: RequestActor, id: string): Promise<AuditEvent> {
    assertScope(actor, 'AuditEvent', 'read');
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) {
      throw notFound(`AuditEvent/${id} is not known`);
    }
    const rows = (await this.dataSource.query(
      `SELECT content FROM "${this.schema}".audit_events WHERE id = $1`,
      [id],
    )) as { content: AuditEvent }[];
    if (rows.length === 0) throw notFound(`AuditEvent/${id} is not known`);
    return rows[0].content;
  }
}
