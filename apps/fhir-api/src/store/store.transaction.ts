import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { Consent, Resource } from '@medplum/fhirtypes';
import type { EntityManager } from 'typeorm';
import type { OutboxWriter } from '@carerelay/messaging';
import { extractSearchIndex, type FhirSearchRequest } from '@carerelay/fhir';
import type { RequestActor } from '../request-actor';
import { AccessGrantRepository } from './access-grant.repository';
import { AccessGrants } from './access-grant.service';
import { ConditionalKeyRepository } from './conditional-key.repository';
import { consentRuleRows, matchesOnPatientData, patientIdOf } from './consent-access';
import { ConsentRuleRepository } from './consent-rule.repository';
import { type ConsentDisclosureRecord, Disclosure } from './disclosure.service';
import { resourceChangeEvent } from './resource-change.event';
import { type HistoryPage, type HistoryQuery, ResourceRepository } from './resource.repository';
import { SearchRepository } from './search.repository';
import { SqlParams } from './sql';
import { ResourceSearch, type SearchResult } from './search.service';
import type { StoredResource, WriteMethod } from './stored-resource.model';
import { organizationsOf } from './visibility';

export interface StoreOptions {
  schema: string;
  localBaseUrls: () => readonly string[];
  attempts: number;
}

/**
 * One database transaction of the resource store, as the interactions see it: reads limited to
 * what the actor may read, writes of new versions (with their history, search index, consent
 * rules, access grants and `fhir.changes.v1` event), conditional-create keys, the disclosure
 * decision, and checks deferred to the end of the transaction.
 */
export class StoreTransaction {
  /**
   * What meta.lastUpdated reads until the database stamps the version (saveVersion): the stamp
   * and the `_lastUpdated` safe horizon must come from one clock, the database's.
   */
  private readonly provisional = new Date().toISOString();
  private readonly resources: ResourceRepository;
  private readonly searchRepository: SearchRepository;
  private readonly searches: ResourceSearch;
  private readonly conditionalKeys: ConditionalKeyRepository;
  private readonly consentRules: ConsentRuleRepository;
  private readonly grants: AccessGrants;
  private readonly disclosure: Disclosure;

  constructor(
    readonly manager: EntityManager,
    readonly actor: RequestActor,
    private readonly options: StoreOptions,
    private readonly outbox: OutboxWriter,
  ) {
    const schema = options.schema;
    this.resources = new ResourceRepository(manager, actor, schema);
    this.searchRepository = new SearchRepository(manager, actor, schema);
    this.searches = new ResourceSearch(this.searchRepository);
    this.conditionalKeys = new ConditionalKeyRepository(manager, schema);
    this.consentRules = new ConsentRuleRepository(manager, schema);
    this.grants = new AccessGrants(new AccessGrantRepository(manager, schema), actor);
    this.disclosure = new Disclosure(this.consentRules, actor, new Date());
  }

  private readonly deferred: { check: () => Promise<void>; locate?: (e: unknown) => unknown }[] =
    [];

  /** How errors of checks deferred from now on are reported (the Bundle entry being processed). */
  locateDeferred?: (error: unknown) => unknown;

  /**
   * A check that needs the transaction's other writes (a Consent's Patient created by a later
   * entry of the same Bundle): run once every write is done, before commit; its error rolls
   * everything back.
   */
  defer(check: () => Promise<void>): void {
    this.deferred.push({ check, locate: this.locateDeferred });
  }

  async runDeferred(): Promise<void> {
    for (let next = this.deferred.shift(); next; next = this.deferred.shift()) {
      try {
        await next.check();
      } catch (error) {
        throw next.locate ? next.locate(error) : error;
      }
    }
  }

  get localBaseUrls(): readonly string[] {
    return this.options.localBaseUrls();
  }

  newId(): string {
    return randomUUID();
  }

  /**
   * The current version (deleted or not) if the actor may see it (readableFilter, then the consent
   * decision on its labels: Disclosure.readable); `forUpdate` locks the row.
   */
  async current(
    resourceType: string,
    id: string,
    options: { forUpdate?: boolean } = {},
  ): Promise<StoredResource | undefined> {
    return this.disclosure.readable(
      await this.resources.current(resourceType, id, options.forUpdate === true),
    );
  }

  /**
   * Locks the current rows of these resources (those that exist), always in (type, id) order, so
   * that two transactions writing the same resources in different orders queue instead of
   * deadlocking. The later per-resource FOR UPDATE then finds its row already held.
   */
  async lockInOrder(keys: Array<{ resourceType: string; id: string }>): Promise<void> {
    if (keys.length === 0) return;
    const unique = [...new Map(keys.map((k) => [`${k.resourceType}/${k.id}`, k])).values()];
    await this.resources.lockInOrder(unique);
  }

  /** Does a resource with this id exist at all (visible or not)? For id collisions only. */
  exists(resourceType: string, id: string): Promise<boolean> {
    return this.resources.exists(resourceType, id);
  }

  /**
   * One version, if the actor may see the resource (judged on its current version) and the consent
   * decision on that version's labels lets it.
   */
  async version(
    resourceType: string,
    id: string,
    versionId: number,
  ): Promise<StoredResource | undefined> {
    return this.disclosure.readable(await this.resources.version(resourceType, id, versionId));
  }

  /**
   * `_history` of one resource or of a type: newest first, visible resources only; `total`
   * counts every version, `shownTotal` only what the actor may be shown. A poll (with `since`)
   * reads up to the safe horizon, as `_lastUpdated` searches do: the one of its first page
   * (`keyset.horizon`), else taken now; the page says which it read up to.
   */
  async history(
    query: Omit<HistoryQuery, 'horizon'>,
  ): Promise<HistoryPage & { shownTotal: number; horizon?: string }> {
    const horizon =
      query.since === undefined
        ? undefined
        : (query.keyset?.horizon ?? (await this.searchRepository.safeHorizon()));
    const page = await this.resources.history({ ...query, horizon });
    const shownTotal = page.groups
      ? await this.disclosure.shownCount(page.groups, false)
      : page.total;
    return { ...page, shownTotal, horizon };
  }

  /** Search over the current, non-deleted, visible resources; `_include`/`_revinclude` too. */
  async search(
    request: FhirSearchRequest,
    options: Parameters<ResourceSearch['search']>[1] = {},
  ): Promise<SearchResult> {
    const result = await this.searches.search(request, options);
    if (!result.groups) return result;
    const matchedOn = matchesOnPatientData([...request.filters, ...request.sort]);
    return { ...result, shownTotal: await this.disclosure.shownCount(result.groups, matchedOn) };
  }

  /** How many visible current resources match (for conditional create), at most `limit`. */
  matchingIds(request: FhirSearchRequest, limit: number): Promise<string[]> {
    return this.searchRepository.matchingIds(request, limit);
  }

  /**
   * Claims a conditional-create key (type + normalised query) for `id`. Returns false when
   * another transaction holds it (this call waits for that transaction to end first), so the
   * caller searches again and finds what the other one created.
   */
  claimConditionalKey(resourceType: string, queryKey: string, id: string): Promise<boolean> {
    return this.conditionalKeys.claim(resourceType, queryKey, id);
  }

  /**
   * matchingIds, and when nothing matches, claimConditionalKey — in one round trip. `claimed` is
   * false when something matched or another transaction holds the key.
   */
  matchOrClaimConditionalKey(
    request: FhirSearchRequest,
    limit: number,
    queryKey: string,
    id: string,
  ): Promise<{ ids: string[]; claimed: boolean }> {
    const p = new SqlParams();
    const matchSql = this.searchRepository.matchingIdsQuery(request, limit, p);
    return this.conditionalKeys.matchOrClaim(matchSql, p, request.resourceType, queryKey, id);
  }

  /** Waits for (and holds until commit) the row of a conditional-create key. */
  lockConditionalKey(resourceType: string, queryKey: string): Promise<void> {
    return this.conditionalKeys.lock(resourceType, queryKey);
  }

  /**
   * Points a key (locked by lockConditionalKey) at `id`: its former resource no longer matches
   * the query (changed or deleted).
   */
  async moveConditionalKey(resourceType: string, queryKey: string, id: string): Promise<boolean> {
    return (
      (await this.conditionalKeys.move(resourceType, queryKey, id)) ||
      this.conditionalKeys.claim(resourceType, queryKey, id)
    );
  }

  /**
   * THE disclosure decision for one stored resource the actor asked for through any channel (read,
   * vread, search and its includes, history, batch and transaction answers, conditional-create
   * matches, Subscription notifications): what the actor is shown of it, or undefined when
   * nothing. `stored` comes from a query under readableFilter (undefined: not readable); on top of
   * it, for a CBO, libs/consent's decision on the patient's Consents, the resource's security
   * labels and the token's purpose of use (disclosure.service.ts): withheld (undefined), or a
   * referral Task redacted (consent-access.ts redactTask: "awaiting consent") — not at all when it
   * was matched on patient data — and 42 CFR Part 2 data labelled NORDSCLCD.
   */
  disclose(
    stored: StoredResource | undefined,
    options: { matchedOn?: readonly { param: string }[] } = {},
  ): Promise<StoredResource | undefined> {
    return this.disclosure.disclose(stored, options);
  }

  /** disclose for each, those shown nothing of left out; one Consent query for all patients. */
  discloseAll(
    list: readonly StoredResource[],
    options: { matchedOn?: readonly { param: string }[] } = {},
  ): Promise<StoredResource[]> {
    return this.disclosure.discloseAll(list, options);
  }

  /** Does the consent decision let the (CBO) actor see this Task unredacted? */
  showsTaskInFull(stored: StoredResource): Promise<boolean> {
    return this.disclosure.showsTaskInFull(stored);
  }

  /** The consent decisions made in this transaction, for its AuditEvent. */
  consentDecisions(): ConsentDisclosureRecord[] {
    return this.disclosure.records();
  }

  /**
   * Stores a new version: `previous` undefined = create. The resource's meta.versionId and
   * meta.lastUpdated are set here; the caller has validated it.
   */
  async write(
    resource: Resource,
    method: WriteMethod,
    previous: StoredResource | undefined,
    options: { deleted?: boolean } = {},
  ): Promise<StoredResource> {
    const versionId = (previous?.versionId ?? 0) + 1;
    const deleted = options.deleted === true;
    // The version's meta holds no reference: the organizations are those of the resource as given.
    const orgs = organizationsOf(
      resource,
      { previous: previous?.orgs, actor: this.actor },
      this.localBaseUrls,
    );
    // A PUT that changes nothing makes no version (as HAPI does): no history row, no change
    // event for every consumer, no notification (a directory republished at start rewrote
    // each shared coverage-area Location once per service, 1,684 versions of 240 Locations).
    if (
      method === 'PUT' &&
      previous &&
      !previous.deleted &&
      !deleted &&
      sameContent(previous.resource, resource) &&
      isDeepStrictEqual(orgs, previous.orgs)
    )
      return previous;
    const content = {
      ...resource,
      meta: {
        ...(resource.meta ?? {}),
        versionId: String(versionId),
        lastUpdated: this.provisional,
      },
    } as Resource;
    const stored: StoredResource = {
      resourceType: content.resourceType,
      id: content.id as string,
      versionId,
      lastUpdated: this.provisional,
      deleted,
      method,
      resource: content,
      orgs,
      patientId: patientIdOf(content, this.localBaseUrls),
    };
    stored.lastUpdated = await this.resources.saveVersion(
      {
        ...stored,
        content,
        method,
        patientId: stored.patientId ?? null,
      },
      previous === undefined,
      deleted ? [] : extractSearchIndex(content, { localBaseUrls: this.localBaseUrls }),
      resourceChangeEvent(this.outbox, this.manager, stored, previous),
    );
    (content.meta as { lastUpdated: string }).lastUpdated = stored.lastUpdated;
    if (stored.resourceType === 'Consent')
      await this.consentRules.replace(
        stored.id,
        deleted ? [] : consentRuleRows(content as Consent),
        previous === undefined,
      );
    await this.grants.afterWrite(stored);
    return stored;
  }
}

/** The resource without what each version sets anew (versionId, lastUpdated). */
function versionFree(resource: Resource): Resource {
  const { versionId: _v, lastUpdated: _l, ...meta } = resource.meta ?? {};
  const { meta: _meta, ...rest } = resource;
  return (Object.keys(meta).length > 0 ? { ...rest, meta } : rest) as Resource;
}

/** Whether two versions say the same (the order of object keys aside). */
export const sameContent = (a: Resource, b: Resource): boolean =>
  isDeepStrictEqual(versionFree(a), versionFree(b));
