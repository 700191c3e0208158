import type { Bundle, BundleEntry } from '@medplum/fhirtypes';
import {
  badRequest,
  isSupportedResourceType,
  type IncludeParam,
  MAX_INCLUDE_ITERATIONS,
  parseSearchRequest,
  searchScope,
  type SearchFilter,
} from '@carerelay/fhir';
import { actorMay } from '../auth/assert-scope';
import type { StoredResource } from '../store/stored-resource.model';
import type { StoreTransaction } from '../store/store.transaction';
import { checkSearchCost, searchCost } from './cost';
import { type InteractionResult, viewAll } from './interaction.results';
import { authorize, type InteractionLimits } from './interaction.rules';
import { SearchCursors } from './search-cursor';

/** Each include is a query per round: an iterated one, one per round it may run. */
function includeCost(request: { include: IncludeParam[]; revinclude: IncludeParam[] }): number {
  return [...request.include, ...request.revinclude].reduce(
    (sum, i) => sum + (i.iterate ? MAX_INCLUDE_ITERATIONS : 1),
    0,
  );
}

/**
 * A chain searches its target types at every level: only those the token allows searching (none:
 * 403), and that this server stores (a named type it does not: 400); a `_has` its source type,
 * under the same rules.
 */
function linkedTargets(tx: StoreTransaction, filter: SearchFilter): void {
  if (filter.kind === 'has') {
    if (!isSupportedResourceType(filter.sourceType))
      throw badRequest(
        `Reverse chain _has:${filter.sourceType}: ${filter.sourceType} is not stored by this server`,
        undefined,
        'not-supported',
      );
    authorize(tx.actor, filter.sourceType, 'search');
    linkedTargets(tx, filter.filter);
    return;
  }
  if (filter.kind !== 'chain') return;
  const stored = filter.targetTypes.filter((type) => isSupportedResourceType(type));
  if (stored.length === 0)
    throw badRequest(
      `Chained search on ${filter.param}: ${filter.targetTypes.join(', ')} is not stored by this server`,
      undefined,
      'not-supported',
    );
  filter.targetTypes = stored.filter((type) => actorMay(tx.actor, type, 'search'));
  if (filter.targetTypes.length === 0) authorize(tx.actor, stored[0], 'search');
  linkedTargets(tx, filter.chained);
}

/** search-type: a `searchset` Bundle of what the actor may read, paged, with its includes. */
export class SearchInteractions {
  constructor(
    private readonly baseUrl: () => string,
    private readonly limits: InteractionLimits,
    private readonly cursors: SearchCursors = new SearchCursors(),
  ) {}

  private get base(): string {
    return this.baseUrl();
  }

  /** A `searchset` Bundle. `query` is the request's query string (GET) or form body (POST). */
  async search(
    tx: StoreTransaction,
    resourceType: string,
    query: URLSearchParams,
    handling: 'strict' | 'lenient' = 'strict',
  ): Promise<InteractionResult> {
    authorize(tx.actor, resourceType, 'search');
    const request = parseSearchRequest(resourceType, query, {
      handling,
      localBaseUrls: tx.localBaseUrls,
      chains: true,
    });
    for (const filter of request.filters) linkedTargets(tx, filter);
    // _include/_revinclude of types the actor may not read are dropped silently.
    const actor = tx.actor;
    request.include = request.include.filter(
      (i) => i.targetType === undefined || actorMay(actor, i.targetType, 'read'),
    );
    request.revinclude = request.revinclude.filter((i) => actorMay(actor, i.sourceType, 'read'));
    if (!query.has('_count')) request.count = this.limits.defaultCount;
    request.count = Math.min(request.count, this.limits.maxCount);
    if (this.limits.maxSearchCost !== undefined)
      checkSearchCost(searchCost(request.count, includeCost(request), this.limits), {
        maxSearchCost: this.limits.maxSearchCost,
      });
    const withTotal = request.total !== 'none';
    const scope = searchScope(resourceType, query);
    const keyset =
      request.cursor === undefined ? undefined : await this.cursors.decode(scope, request.cursor);
    const found = await tx.search(request, {
      withTotal,
      includable: (type) => actorMay(actor, type, 'read'),
      keyset,
    });
    const result = {
      ...found,
      included: found.included.filter((s) => actorMay(actor, s.resourceType, 'read')),
    };
    const links = await this.cursors.pageLinks(
      (params) => `${this.base}/${resourceType}?${params.toString()}`,
      scope,
      query,
      { ...request, countOnly: request.summary === 'count' },
      keyset,
      found,
    );
    const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset', link: links };
    // Paging goes by every match; the total tells only what the actor may be shown.
    if (withTotal) bundle.total = result.shownTotal ?? result.total;
    const entries: BundleEntry[] = [
      ...(await viewAll(tx, result.matches, [...request.filters, ...request.sort])).map((s) =>
        this.entryOf(s, 'match'),
      ),
      ...(await viewAll(tx, result.included)).map((s) => this.entryOf(s, 'include')),
    ];
    if (entries.length > 0) bundle.entry = entries;
    if (request.ignored.length > 0) {
      bundle.entry = [
        ...(bundle.entry ?? []),
        {
          resource: {
            resourceType: 'OperationOutcome',
            issue: [
              {
                severity: 'warning',
                code: 'not-supported',
                diagnostics: `Ignored search parameters: ${request.ignored.join(', ')}`,
              },
            ],
          },
          search: { mode: 'outcome' },
        },
      ];
    }
    return { status: 200, body: bundle };
  }

  private entryOf(s: StoredResource, mode: 'match' | 'include'): BundleEntry {
    return {
      fullUrl: `${this.base}/${s.resourceType}/${s.id}`,
      resource: s.resource,
      search: { mode },
    };
  }
}
