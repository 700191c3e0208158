import {
  type FhirSearchRequest,
  type IncludeParam,
  MAX_INCLUDE_ITERATIONS,
  parseReference,
} from '@carerelay/fhir';
import type { DisclosureGroup } from './disclosure.service';
import type { KeysetPosition, SearchRepository } from './search.repository';
import type { StoredResource } from './stored-resource.model';

export interface SearchResult {
  matches: StoredResource[];
  /** How many resources match (what paging goes by). */
  total: number;
  included: StoredResource[];
  /** The sort key of each match (as text, sortKeys), for the cursors of the page's links. */
  keys: (string | null)[][];
  /** More matches follow the page in the direction it was read. */
  more: boolean;
  /** A CBO's matches grouped as the consent decision sees them (StoreTransaction.search). */
  groups?: DisclosureGroup[];
  /** How many of the matches the actor is shown (a CBO's: without withheld ones). */
  shownTotal?: number;
}

/** Search over the current, non-deleted, visible resources, with `_include`/`_revinclude`. */
export class ResourceSearch {
  constructor(private readonly repository: SearchRepository) {}

  async search(
    request: FhirSearchRequest,
    options: {
      withTotal?: boolean;
      /** The types the actor may be given (its scopes): no other is included, or iterated from. */
      includable?: (resourceType: string) => boolean;
      /** Where the page starts (a cursor's position); none: the first page. */
      keyset?: KeysetPosition;
    } = {},
  ): Promise<SearchResult> {
    const page = await this.repository.page(request, {
      withTotal: options.withTotal !== false,
      countOnly: request.summary === 'count' || request.count === 0,
      keyset: options.keyset,
    });
    if (request.summary === 'count' || request.count === 0) {
      return { ...page, matches: [], included: [] };
    }
    const matches = page.matches;
    const included = await this.includes(request, matches, options.includable ?? (() => true));
    return { ...page, included };
  }

  /**
   * Each included resource once, and none that is a match already. The includes apply to the
   * matches; the `:iterate` ones then to what the previous round added, for at most
   * MAX_INCLUDE_ITERATIONS rounds (each resource through the same read rule as the matches).
   */
  private async includes(
    request: FhirSearchRequest,
    matches: StoredResource[],
    includable: (resourceType: string) => boolean,
  ): Promise<StoredResource[]> {
    if (matches.length === 0 || (request.include.length === 0 && request.revinclude.length === 0)) {
      return [];
    }
    const seen = new Set(matches.map((m) => `${m.resourceType}/${m.id}`));
    const included: StoredResource[] = [];
    const add = (rows: StoredResource[], into: StoredResource[]) => {
      for (const row of rows) {
        const key = `${row.resourceType}/${row.id}`;
        if (!seen.has(key) && includable(row.resourceType)) {
          seen.add(key);
          included.push(row);
          into.push(row);
        }
      }
    };
    let round: StoredResource[] = matches;
    for (let depth = 0; depth <= MAX_INCLUDE_ITERATIONS && round.length > 0; depth++) {
      const first = depth === 0;
      const added: StoredResource[] = [];
      for (const include of request.include) {
        if (!first && !include.iterate) continue;
        const sourceIds = round
          .filter((r) => r.resourceType === include.sourceType)
          .map((r) => r.id);
        if (sourceIds.length > 0) add(await this.forwardInclude(include, sourceIds), added);
      }
      for (const include of request.revinclude) {
        if (!first && !include.iterate) continue;
        // First round: the resources of the searched type found so far, as a plain _revinclude.
        const targets = first
          ? [...seen].filter((k) => k.startsWith(`${request.resourceType}/`))
          : round.map((r) => `${r.resourceType}/${r.id}`);
        if (targets.length > 0)
          add(await this.repository.referencing(include.sourceType, include.param, targets), added);
      }
      round = added;
    }
    return included;
  }

  /** What the matches reference through the include's parameter (local, of its target type). */
  private async forwardInclude(
    include: IncludeParam,
    sourceIds: string[],
  ): Promise<StoredResource[]> {
    const refs = await this.repository.referencesFrom(include.sourceType, sourceIds, include.param);
    const types: string[] = [];
    const targetIds: string[] = [];
    for (const ref of refs) {
      const parsed = parseReference(ref);
      if (parsed?.kind !== 'relative') continue;
      if (include.targetType && parsed.resourceType !== include.targetType) continue;
      types.push(parsed.resourceType);
      targetIds.push(parsed.id);
    }
    if (types.length === 0) return [];
    return this.repository.readable(types, targetIds);
  }
}
