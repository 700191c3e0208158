import type { Filter, SearchRequest } from '@medplum/core';
import { MemoryRepository } from '@medplum/fhir-router';
import type { Bundle, Resource } from '@medplum/fhirtypes';

type Stored = Resource & { id: string };

/** References that name the patient a resource is about (the `patient`/`subject` parameters). */
const PATIENT_FIELDS = ['patient', 'subject', 'for', 'beneficiary'] as const;

const idOfReference = (reference: string): string =>
  reference.slice(reference.lastIndexOf('/') + 1);

/** The keys a resource is found under: identifier values and the ids its patient fields name. */
function keysOf(resource: Resource): string[] {
  const keys: string[] = [];
  const record = resource as unknown as Record<string, unknown>;
  for (const identifier of (record.identifier as Array<{ value?: string }> | undefined) ?? [])
    if (identifier?.value) keys.push(`identifier|${identifier.value}`);
  for (const field of PATIENT_FIELDS) {
    const reference = (record[field] as { reference?: string } | undefined)?.reference;
    if (typeof reference === 'string') keys.push(`ref|${idOfReference(reference)}`);
  }
  return keys;
}

/** The index key one search filter narrows to, when it names exactly one value. */
function keyOfFilter(filter: Filter): string | undefined {
  if (filter.operator !== 'eq' || !filter.value || filter.value.includes(',')) return undefined;
  if (filter.code === 'identifier') {
    const value = filter.value.slice(filter.value.lastIndexOf('|') + 1);
    return value ? `identifier|${value}` : undefined;
  }
  if (filter.code === 'patient' || filter.code === 'subject')
    return `ref|${idOfReference(filter.value)}`;
  return undefined;
}

/**
 * Medplum's in-memory repository with the indexes a real EHR server has: a search scans every
 * resource of its type with a FHIRPath evaluation each (about 1 ms a Procedure for `identifier`),
 * so the demo's stand-in EHRs slowed as referrals accumulated, until the connector's conditional
 * creates of Procedures took a whole core. A search that names an identifier, a patient or a
 * `_lastUpdated` lower bound now looks only at the resources those could match (a superset);
 * Medplum's own search then matches, sorts and pages those, so the answers are the same.
 */
export class IndexedMemoryRepository extends MemoryRepository {
  /** `<type>|<key>` → ids. */
  private readonly byKey = new Map<string, Set<string>>();
  private readonly keysById = new Map<string, string[]>();
  /** Per type, ids in the order of their last write, with its time (for `_lastUpdated`). */
  private readonly writes = new Map<string, Array<{ at: number; id: string }>>();

  override async createResource<T extends Resource>(resource: T): Promise<T & { id: string }> {
    const stored = await super.createResource(resource);
    this.index(stored);
    return stored;
  }

  override async updateResource<T extends Resource>(
    resource: T,
    options?: Parameters<MemoryRepository['updateResource']>[1],
  ): Promise<T & { id: string }> {
    const stored = await super.updateResource(resource, options);
    this.index(stored);
    return stored;
  }

  override async deleteResource(resourceType: string, id: string): Promise<void> {
    await super.deleteResource(resourceType, id);
    this.unindex(resourceType, id);
  }

  override clear(): void {
    super.clear();
    this.byKey.clear();
    this.keysById.clear();
    this.writes.clear();
  }

  override async search<T extends Resource>(
    request: SearchRequest<T>,
  ): Promise<Bundle<T & { id: string }>> {
    const all = this.store()?.get(request.resourceType);
    const candidates = all && this.candidates(request, all);
    if (!all || !candidates) return super.search(request);
    // Medplum's search, over the candidates alone: it runs to its end without awaiting, so
    // nothing else sees the narrowed map. The map keeps Medplum's own order (its sort is stable
    // and its dates compare coarsely, so ties keep that order); a membership test per resource
    // costs nanoseconds where the FHIRPath match it spares costs about a millisecond.
    const narrowed = new Map<string, Stored>();
    for (const [id, resource] of all) if (candidates.has(id)) narrowed.set(id, resource);
    const store = this.store() as Map<string, Map<string, Stored>>;
    store.set(request.resourceType, narrowed);
    try {
      return await super.search(request);
    } finally {
      store.set(request.resourceType, all);
    }
  }

  /** Medplum's own map of resources by type and id (undefined if its shape ever changes). */
  private store(): Map<string, Map<string, Stored>> | undefined {
    const resources = (this as unknown as { resources?: unknown }).resources;
    return resources instanceof Map ? (resources as Map<string, Map<string, Stored>>) : undefined;
  }

  /** The ids the request could match, fewest first; undefined when no filter narrows it. */
  private candidates(
    request: SearchRequest,
    all: Map<string, Stored>,
  ): ReadonlySet<string> | undefined {
    let best: ReadonlySet<string> | undefined;
    let bestSize = all.size;
    for (const filter of request.filters ?? []) {
      const key = keyOfFilter(filter);
      if (key) {
        const ids = this.byKey.get(`${request.resourceType}|${key}`) ?? new Set<string>();
        if (ids.size <= bestSize) [best, bestSize] = [ids, ids.size];
      } else if (
        filter.code === '_lastUpdated' &&
        (filter.operator === 'gt' || filter.operator === 'ge' || filter.operator === 'sa')
      ) {
        const since = Date.parse(filter.value);
        if (Number.isNaN(since)) continue;
        const ids = this.writtenSince(request.resourceType, since);
        if (ids.size <= bestSize) [best, bestSize] = [ids, ids.size];
      }
    }
    return best;
  }

  /** Ids written at or after `since` (a superset of those last updated after it). */
  private writtenSince(resourceType: string, since: number): Set<string> {
    const log = this.writes.get(resourceType) ?? [];
    let low = 0;
    let high = log.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (log[mid].at < since - 1) low = mid + 1;
      else high = mid;
    }
    return new Set(log.slice(low).map((w) => w.id));
  }

  private index(resource: Stored): void {
    this.unindex(resource.resourceType, resource.id);
    const keys = keysOf(resource).map((key) => `${resource.resourceType}|${key}`);
    for (const key of keys) {
      let ids = this.byKey.get(key);
      if (!ids) this.byKey.set(key, (ids = new Set()));
      ids.add(resource.id);
    }
    this.keysById.set(`${resource.resourceType}/${resource.id}`, keys);
    const at = Date.parse(resource.meta?.lastUpdated ?? '') || Date.now();
    let log = this.writes.get(resource.resourceType);
    if (!log) this.writes.set(resource.resourceType, (log = []));
    // Medplum stamps writes with the clock: in order, but keep the log sorted if it ever is not.
    let position = log.length;
    while (position > 0 && log[position - 1].at > at) position--;
    log.splice(position, 0, { at, id: resource.id });
  }

  private unindex(resourceType: string, id: string): void {
    for (const key of this.keysById.get(`${resourceType}/${id}`) ?? [])
      this.byKey.get(key)?.delete(id);
    this.keysById.delete(`${resourceType}/${id}`);
  }
}
