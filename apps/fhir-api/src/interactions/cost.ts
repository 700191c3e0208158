import { FhirError, issue, MAX_INCLUDE_ITERATIONS } from '@carerelay/fhir';

/**
 * What a search or a Bundle may cost before it runs. A search's cost is the rows it may
 * return: its page (`_count`, capped) times one plus its `_include`/`_revinclude`s; a Bundle's
 * is the sum of its entries' (1 for a read or a write). Beyond the budget a request is refused
 * before any work (400 too-costly), so one request cannot occupy the server for minutes.
 */
export interface CostLimits {
  defaultCount: number;
  maxCount: number;
  /** The most one search may cost. */
  maxSearchCost: number;
  /** The most one batch or transaction Bundle may cost, all its entries together. */
  maxBundleCost: number;
}

export function searchCost(
  count: number,
  includes: number,
  limits: Pick<CostLimits, 'maxCount'>,
): number {
  return Math.min(Math.max(count, 1), limits.maxCount) * (1 + includes);
}

/** The cost of a search given as its query (a Bundle entry's `Task?_count=100`). */
export function searchQueryCost(
  query: URLSearchParams,
  limits: Pick<CostLimits, 'defaultCount' | 'maxCount'>,
): number {
  const raw = query.get('_count');
  const count = raw !== null && /^\d{1,9}$/.test(raw) ? Number(raw) : limits.defaultCount;
  let includes = 0;
  for (const key of query.keys()) {
    if (key === '_include' || key === '_revinclude') includes += 1;
    // An iterated include may run once per round.
    else if (key === '_include:iterate' || key === '_revinclude:iterate')
      includes += MAX_INCLUDE_ITERATIONS;
  }
  return searchCost(count, includes, limits);
}

export function tooCostly(diagnostics: string, expression?: string): FhirError {
  return new FhirError(400, [issue('error', 'too-costly', diagnostics, expression)]);
}

export function checkSearchCost(cost: number, limits: Pick<CostLimits, 'maxSearchCost'>): void {
  if (cost > limits.maxSearchCost)
    throw tooCostly(
      `This search may return ${cost} resources, more than ${limits.maxSearchCost}: ` +
        'ask for a smaller _count or fewer _include/_revinclude',
    );
}

/** The cost of Bundle entries; a search entry is one whose request is a GET without an id. */
export function bundleCost(
  entries: ReadonlyArray<{ method: string; url: string }>,
  limits: Pick<CostLimits, 'defaultCount' | 'maxCount'>,
): number {
  let cost = 0;
  for (const { method, url } of entries) {
    const q = url.indexOf('?');
    const path = (q === -1 ? url : url.slice(0, q)).split('/').filter(Boolean);
    const isSearch = method === 'GET' && (path.length === 1 || path[1] === '_search');
    cost += isSearch
      ? searchQueryCost(new URLSearchParams(q === -1 ? '' : url.slice(q + 1)), limits)
      : 1;
  }
  return cost;
}

export function checkBundleCost(cost: number, limits: Pick<CostLimits, 'maxBundleCost'>): void {
  if (cost > limits.maxBundleCost)
    throw tooCostly(
      `This Bundle may read or write ${cost} resources, more than ${limits.maxBundleCost}: ` +
        'split it, or ask its searches for smaller pages',
      'Bundle.entry',
    );
}
