import type { Bundle, BundleEntry } from '@medplum/fhirtypes';
import { badRequest, dateToRange, notFound, searchScope } from '@carerelay/fhir';
import type { StoreTransaction } from '../store/store.transaction';
import { etagOf } from './etag';
import { type InteractionResult, viewAll } from './interaction.results';
import { assertId, authorize, type InteractionLimits } from './interaction.rules';
import { SearchCursors } from './search-cursor';

/**
 * history-instance and history-type: a `history` Bundle, newest first, paged by keyset cursors
 * (as searches are). A poll (`_since`) reads up to the safe horizon and says so in the Bundle's
 * meta.lastUpdated: the `_since` of the next poll, which then sees every version exactly once,
 * a slow writer's late commit included.
 */
export class HistoryInteractions {
  constructor(
    private readonly baseUrl: () => string,
    private readonly limits: InteractionLimits,
    private readonly cursors: SearchCursors = new SearchCursors(),
  ) {}

  private get base(): string {
    return this.baseUrl();
  }

  /** `_history` of a resource (id given) or of a type: a `history` Bundle, newest first. */
  async history(
    tx: StoreTransaction,
    resourceType: string,
    id: string | undefined,
    query: URLSearchParams,
  ): Promise<InteractionResult> {
    authorize(tx.actor, resourceType, id === undefined ? 'history-type' : 'history');
    if (id !== undefined) assertId(id);
    let count = this.limits.defaultCount;
    let offset = 0;
    let since: string | undefined;
    let cursor: string | undefined;
    for (const [name, value] of query.entries()) {
      if (name === '_count') {
        if (!/^\d{1,6}$/.test(value))
          throw badRequest('_count must be a non-negative integer', undefined, 'value');
        count = Math.min(Number(value), this.limits.maxCount);
      } else if (name === '_offset') {
        if (!/^\d{1,6}$/.test(value))
          throw badRequest('_offset must be a non-negative integer', undefined, 'value');
        offset = Number(value);
      } else if (name === '_cursor') {
        cursor = value;
      } else if (name === '_since') {
        const range = dateToRange(value.replace(/ (\d{2}:\d{2})$/, '+$1'));
        if (!range?.start)
          throw badRequest(`Invalid _since "${value.slice(0, 40)}"`, undefined, 'value');
        since = range.start;
      } else if (name !== '_format' && name !== '_pretty') {
        throw badRequest(
          `Parameter "${name.slice(0, 40)}" is not supported on _history`,
          undefined,
          'not-supported',
        );
      }
    }
    if (cursor !== undefined && query.has('_offset'))
      throw badRequest('_cursor and _offset cannot be combined', undefined, 'value');
    if (id !== undefined) {
      const current = await tx.current(resourceType, id);
      if (!current) throw notFound(`${resourceType}/${id} is not known`);
    }
    const path = id === undefined ? `${resourceType}/_history` : `${resourceType}/${id}/_history`;
    const scope = searchScope(path, query);
    const keyset = cursor === undefined ? undefined : await this.cursors.decode(scope, cursor);
    const found = await tx.history({ resourceType, id, since, count, offset, keyset });
    const { entries, shownTotal, horizon } = found;
    const links = await this.cursors.pageLinks(
      (params) => `${this.base}/${path}?${params.toString()}`,
      scope,
      query,
      { count, cursor, offset },
      keyset,
      found,
      horizon,
    );
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'history',
      ...(horizon === undefined ? {} : { meta: { lastUpdated: horizon } }),
      total: shownTotal,
      link: links,
      entry: (await viewAll(tx, entries)).map((s) => {
        const entry: BundleEntry = {
          fullUrl: `${this.base}/${s.resourceType}/${s.id}`,
          request: {
            method: s.method ?? 'PUT',
            url: s.method === 'POST' ? s.resourceType : `${s.resourceType}/${s.id}`,
          },
          response: {
            status: s.deleted ? '204' : s.method === 'POST' ? '201' : '200',
            etag: etagOf(s.versionId),
            lastModified: s.lastUpdated,
          },
        };
        if (!s.deleted) entry.resource = s.resource;
        return entry;
      }),
    };
    return { status: 200, body: bundle };
  }
}
