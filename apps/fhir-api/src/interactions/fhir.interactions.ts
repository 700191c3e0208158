import type { Resource } from '@medplum/fhirtypes';
import type { RequestActor } from '../request-actor';
import type { StoredResource } from '../store/stored-resource.model';
import type { StoreTransaction } from '../store/store.transaction';
import { resolveConditional } from './conditional';
import { HistoryInteractions } from './history.interactions';
import { type InteractionResult, view } from './interaction.results';
import type { InteractionLimits } from './interaction.rules';
import { ReadInteractions } from './read.interactions';
import { SearchCursors } from './search-cursor';
import { SearchInteractions } from './search.interactions';
import { checkCreationRules, checkTenant, validateResource } from './write.checks';
import { WriteInteractions } from './write.interactions';

/**
 * The FHIR interactions on the store, each inside a StoreTransaction (so that transaction
 * Bundles compose them): validation (R4 definitions → 400, IG referral rules → 422), the Task
 * workflow rules (403/422), versions and If-Match (412), conditional create. Each family lives in
 * its own file; this is the one entry the controller and the Bundle processor call.
 */
export class FhirInteractions {
  private readonly reads: ReadInteractions;
  private readonly writes: WriteInteractions;
  private readonly searches: SearchInteractions;
  private readonly histories: HistoryInteractions;

  constructor(
    private readonly baseUrl: () => string,
    limits: InteractionLimits,
    cursors: SearchCursors = new SearchCursors(),
  ) {
    this.reads = new ReadInteractions();
    this.writes = new WriteInteractions(baseUrl);
    this.searches = new SearchInteractions(baseUrl, limits, cursors);
    this.histories = new HistoryInteractions(baseUrl, limits, cursors);
  }

  get base(): string {
    return this.baseUrl();
  }

  /** What the actor is shown of a stored resource it may read (interaction.results.ts view). */
  view(tx: StoreTransaction, stored: StoredResource): Promise<StoredResource> {
    return view(tx, stored);
  }

  /** R4 validation (400) then the IG's rules (422) of a resource about to be stored. */
  validate(resource: unknown, resourceType: string, actor: RequestActor): Resource {
    return validateResource(resource, resourceType, actor);
  }

  /** The match of a conditional create, or undefined when `newId` may be created (conditional.ts). */
  resolveConditional(
    tx: StoreTransaction,
    resourceType: string,
    ifNoneExist: string,
    newId: string,
  ): Promise<StoredResource | undefined> {
    return resolveConditional(tx, resourceType, ifNoneExist, newId);
  }

  checkCreationRules(actor: RequestActor, resource: Resource): void {
    checkCreationRules(actor, resource);
  }

  /** The tenancy of a write (write.checks.ts checkTenant). */
  checkTenant(
    tx: StoreTransaction,
    resource: Resource,
    existing: StoredResource | undefined,
  ): Promise<void> {
    return checkTenant(tx, resource, existing);
  }

  create(
    tx: StoreTransaction,
    resourceType: string,
    body: unknown,
    options: { ifNoneExist?: string; id?: string; validated?: Resource } = {},
  ): Promise<InteractionResult> {
    return this.writes.create(tx, resourceType, body, options);
  }

  read(tx: StoreTransaction, resourceType: string, id: string): Promise<InteractionResult> {
    return this.reads.read(tx, resourceType, id);
  }

  vread(
    tx: StoreTransaction,
    resourceType: string,
    id: string,
    versionId: string,
  ): Promise<InteractionResult> {
    return this.reads.vread(tx, resourceType, id, versionId);
  }

  update(
    tx: StoreTransaction,
    resourceType: string,
    id: string,
    body: unknown,
    options: { ifMatch?: number } = {},
  ): Promise<InteractionResult> {
    return this.writes.update(tx, resourceType, id, body, options);
  }

  patch(
    tx: StoreTransaction,
    resourceType: string,
    id: string,
    document: unknown,
    options: { ifMatch?: number } = {},
  ): Promise<InteractionResult> {
    return this.writes.patch(tx, resourceType, id, document, options);
  }

  delete(tx: StoreTransaction, resourceType: string, id: string): Promise<InteractionResult> {
    return this.writes.delete(tx, resourceType, id);
  }

  /** `PUT Type?criteria` (write.interactions.ts). */
  conditionalUpdate(
    tx: StoreTransaction,
    resourceType: string,
    criteria: string,
    body: unknown,
    options: { ifMatch?: number } = {},
  ): Promise<InteractionResult> {
    return this.writes.conditionalUpdate(tx, resourceType, criteria, body, options);
  }

  /** `DELETE Type?criteria` (write.interactions.ts). */
  conditionalDelete(
    tx: StoreTransaction,
    resourceType: string,
    criteria: string,
  ): Promise<InteractionResult> {
    return this.writes.conditionalDelete(tx, resourceType, criteria);
  }

  /** A `searchset` Bundle. `query` is the request's query string (GET) or form body (POST). */
  search(
    tx: StoreTransaction,
    resourceType: string,
    query: URLSearchParams,
    handling: 'strict' | 'lenient' = 'strict',
  ): Promise<InteractionResult> {
    return this.searches.search(tx, resourceType, query, handling);
  }

  /** `_history` of a resource (id given) or of a type: a `history` Bundle, newest first. */
  history(
    tx: StoreTransaction,
    resourceType: string,
    id: string | undefined,
    query: URLSearchParams,
  ): Promise<InteractionResult> {
    return this.histories.history(tx, resourceType, id, query);
  }
}
