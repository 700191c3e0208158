import { type FhirSearchRequest, type IncludeParam, parseReference } from '@carerelay/fhir';
import type { SearchRepository } from './search.repository';
import type { StoredResource } from './stored-resource.model';

export interface SearchResult {
  matches: StoredResource[];
  total: number;
  included: StoredResource[];
}

/** Search over the current, non-deleted, visible resources, with `_include`/`_revinclude`. */
export class ResourceSearch {
  constructor(private readonly repository: SearchRepository) {}

  async search(
    request: FhirSearchRequest,
    options: { withTotal?: boolean } = {},
  ): Promise<SearchResult> {
    const { matches, total } = await this.repository.page(request, {
      withTotal: options.withTotal !== false,
      countOnly: request.summary === 'count' || request.count === 0,
      descending: request.sort[0]?.descending ?? false,
    });
    if (request.summary === 'count' || request.count === 0) {
      return { matches: [], total, included: [] };
    }
    const included = await this.includes(request, matches);
    return { matches, total, included };
  }

  /** Each included resource once, and none that is a match already. */
  private async includes(
    request: FhirSearchRequest,
    matches: StoredResource[],
  ): Promise<StoredResource[]> {
    if (matches.length === 0 || (request.include.length === 0 && request.revinclude.length === 0)) {
      return [];
    }
    const seen = new Set(matches.map((m) => `${m.resourceType}/${m.id}`));
    const included: StoredResource[] = [];
    const add = (rows: StoredResource[]) => {
      for (const row of rows) {
        const key = `${row.resourceType}/${row.id}`;
        if (!seen.has(key)) {
          seen.add(key);
          included.push(row);
        }
      }
    };
    const ids = matches.map((m) => m.id);
    for (const include of request.include) add(await this.forwardInclude(include, ids));
    for (const include of request.revinclude)
      add(
        await this.repository.referencing(
          include.sourceType,
          include.param,
          [...seen].filter((k) => k.startsWith(`${request.resourceType}/`)),
        ),
      );
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
