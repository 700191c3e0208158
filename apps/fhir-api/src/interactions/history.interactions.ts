import type { Bundle, BundleEntry } from '@medplum/fhirtypes';
import { badRequest, dateToRange, notFound } from '@carerelay/fhir';
import type { StoreTransaction } from '../store/store.transaction';
import { etagOf } from './etag';
import { type InteractionResult, viewAll } from './interaction.results';
import { assertId, authorize, type InteractionLimits } from './interaction.rules';

/** history-instance and history-type: a `history` Bundle, newest first. */
export class HistoryInteractions {
  constructor(
    private readonly baseUrl: () => string,
    private readonly limits: InteractionLimits,
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
    for (const [name, value] of query.entries()) {
      if (name === '_count') {
        if (!/^\d{1,6}$/.test(value))
          throw badRequest('_count must be a non-negative integer', undefined, 'value');
        count = Math.min(Number(value), this.limits.maxCount);
      } else if (name === '_offset') {
        if (!/^\d{1,6}$/.test(value))
          throw badRequest('_offset must be a non-negative integer', undefined, 'value');
        offset = Number(value);
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
    if (id !== undefined) {
      const current = await tx.current(resourceType, id);
      if (!current) throw notFound(`${resourceType}/${id} is not known`);
    }
    const { entries, total, shownTotal } = await tx.history({
      resourceType,
      id,
      since,
      count,
      offset,
    });
    const path = id === undefined ? `${resourceType}/_history` : `${resourceType}/${id}/_history`;
    const links: NonNullable<Bundle['link']> = [
      { relation: 'self', url: `${this.base}/${path}?${query.toString()}` },
    ];
    if (offset + count < total) {
      const next = new URLSearchParams(query);
      next.set('_count', String(count));
      next.set('_offset', String(offset + count));
      links.push({ relation: 'next', url: `${this.base}/${path}?${next.toString()}` });
    }
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'history',
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
