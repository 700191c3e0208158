import type {
  Bundle,
  BundleEntry,
  Consent,
  Resource,
  ServiceRequest,
  Task,
} from '@medplum/fhirtypes';
import {
  applyJsonPatch,
  assertValidFhirResource,
  badRequest,
  checkOwnerChanges,
  checkTaskCreation,
  checkTaskUpdate,
  dateToRange,
  FHIR_ID_PATTERN,
  FhirError,
  forbidden,
  gone,
  isReferralTask,
  isSupportedResourceType,
  methodNotAllowed,
  notFound,
  pageQuery,
  parseSearchRequest,
  preconditionFailed,
  type TaskActorRole,
  unprocessableIssues,
  validateReferralRules,
} from '@carerelay/fhir';
import { actorMay, assertScope } from '../auth/assert-scope';
import type { Interaction } from '../auth/scopes';
import type { RequestActor } from '../request-actor';
import { consentRuleRows, patientIdOf, unredactTaskUpdate } from '../store/consent-access';
import { organizationIdOf } from '../store/visibility';
import type { StoredResource } from '../store/stored-resource.model';
import type { StoreTransaction } from '../store/store.transaction';
import { conditionalKey, conditionalQuery, severalMatches } from './conditional';
import { checkSearchCost, searchCost } from './cost';
import { etagOf } from './etag';

export interface InteractionLimits {
  defaultCount: number;
  maxCount: number;
  /** The most one search may cost (page × (1 + includes)); unlimited when absent. */
  maxSearchCost?: number;
}

/** What an interaction answers: an HTTP status, a body, and the headers that go with it. */
export interface InteractionResult {
  status: number;
  body?: Resource;
  stored?: StoredResource;
  location?: string;
}

export const VERSIONED_RESOURCE_LOCATION = (base: string, s: StoredResource): string =>
  `${base}/${s.resourceType}/${s.id}/_history/${s.versionId}`;

/** 404 for types this server does not serve (unknown to R4, or outside the IG's list). */
export function assertSupportedType(resourceType: string): void {
  if (!isSupportedResourceType(resourceType)) {
    throw new FhirError(404, [
      {
        severity: 'error',
        code: 'not-supported',
        diagnostics: `Resource type "${String(resourceType).slice(0, 64)}" is not supported by this server`,
      },
    ]);
  }
}

/**
 * 404 for a type this server does not serve, then 403 (naming the missing scope) unless the
 * actor's token grants the interaction on the type and its role allows it (src/auth). Every
 * interaction calls it: a plain request, and each entry of a batch or transaction Bundle.
 */
export function authorize(
  actor: RequestActor,
  resourceType: string,
  interaction: Interaction,
): void {
  assertSupportedType(resourceType);
  assertScope(actor, resourceType, interaction);
}

export function assertId(id: string): void {
  if (!FHIR_ID_PATTERN.test(id))
    throw badRequest(`Invalid resource id "${id.slice(0, 80)}"`, undefined, 'value');
}

/** The role of the actor in a referral Task's workflow (libs/fhir task-status rules). */
export function taskRoleOf(
  actor: RequestActor,
  stored: StoredResource | undefined,
  task: Task,
): TaskActorRole | undefined {
  if (actor.role === 'platform' || actor.role === 'coordinator') return 'platform';
  const requesterOrg = stored?.orgs.requesterOrg ?? actor.organizationId;
  const ownerRef = task.owner?.reference ?? '';
  const ownerOrg =
    stored?.orgs.ownerOrg ??
    (ownerRef.startsWith('Organization/') ? ownerRef.slice(13) : undefined);
  const isRequester = requesterOrg === actor.organizationId;
  const isOwner = ownerOrg === actor.organizationId;
  if (isRequester && isOwner) return 'platform';
  if (isOwner) return 'owner';
  if (isRequester) return 'requester';
  return undefined;
}

/**
 * The platform (CareRelay's own services) acts as "platform" in the Task transition table. On a
 * Task it did not request — a source Task an EHR sent to the platform, which the platform owns —
 * it may change what an owner may (status, statusReason, output) and `businessStatus` (the
 * referral's progress, mirrored from the CBO's Task); 403 naming the element otherwise.
 */
export function checkPlatformTaskChanges(
  actor: RequestActor,
  stored: StoredResource,
  after: Task,
): FhirError | undefined {
  if (actor.role !== 'platform' || stored.orgs.requesterOrg === actor.organizationId) return;
  return checkOwnerChanges(stored.resource as Task, after, { allowBusinessStatus: true });
}

/** Elements of a ServiceRequest that are the server's, not the client's. */
const SERVER_META = new Set(['versionId', 'lastUpdated', 'source']);

/**
 * The platform may update a ServiceRequest it did not request (an EHR's source ServiceRequest)
 * only to mark it completed (the referral was fulfilled): status → completed, nothing else.
 * Its own ServiceRequests (filler-orders) it may change freely.
 */
export function checkPlatformServiceRequestChanges(
  actor: RequestActor,
  stored: StoredResource,
  after: ServiceRequest,
): FhirError | undefined {
  if (actor.role !== 'platform' || stored.orgs.requesterOrg === actor.organizationId) return;
  const before = stored.resource as ServiceRequest;
  const b = before as unknown as Record<string, unknown>;
  const a = after as unknown as Record<string, unknown>;
  for (const key of [...new Set([...Object.keys(b), ...Object.keys(a)])].sort()) {
    if (key === 'status') continue;
    if (key === 'meta') {
      const mb = (b.meta ?? {}) as Record<string, unknown>;
      const ma = (a.meta ?? {}) as Record<string, unknown>;
      for (const m of new Set([...Object.keys(mb), ...Object.keys(ma)])) {
        if (!SERVER_META.has(m) && JSON.stringify(mb[m]) !== JSON.stringify(ma[m]))
          return forbidden(
            `The platform may only complete another organization's ServiceRequest; not change meta.${m}`,
            `ServiceRequest.meta.${m}`,
          );
      }
      continue;
    }
    if (JSON.stringify(b[key]) !== JSON.stringify(a[key]))
      return forbidden(
        `The platform may only complete another organization's ServiceRequest; not change ${key}`,
        `ServiceRequest.${key}`,
      );
  }
  if (after.status !== before.status && after.status !== 'completed')
    return forbidden(
      `The platform may set another organization's ServiceRequest to completed only, not ${after.status}`,
      'ServiceRequest.status',
    );
  return undefined;
}

/** Server-managed meta elements are the server's: what a client sends there is dropped. */
function withClientMeta(resource: Resource): Resource {
  if (!resource.meta) return resource;
  const { versionId: _v, lastUpdated: _l, ...meta } = resource.meta;
  const copy = { ...resource } as Resource;
  if (Object.keys(meta).length > 0) copy.meta = meta;
  else delete copy.meta;
  return copy;
}

/**
 * The FHIR interactions on the store, each inside a StoreTransaction (so that transaction
 * Bundles compose them): validation (R4 definitions → 400, IG referral rules → 422), the Task
 * workflow rules (403/422), versions and If-Match (412), conditional create.
 */
export class FhirInteractions {
  constructor(
    private readonly baseUrl: () => string,
    private readonly limits: InteractionLimits,
  ) {}

  get base(): string {
    return this.baseUrl();
  }

  /**
   * What the actor is shown of a stored resource it may read: StoreTransaction.disclose, the one
   * decision every channel applies (a CBO's Task without a covering consent comes back redacted).
   */
  async view(tx: StoreTransaction, stored: StoredResource): Promise<StoredResource> {
    return (await tx.disclose(stored)) ?? stored;
  }

  private async viewAll(
    tx: StoreTransaction,
    list: StoredResource[],
    matchedOn?: readonly { param: string }[],
  ): Promise<StoredResource[]> {
    const shown = await Promise.all(list.map((s) => tx.disclose(s, { matchedOn })));
    return shown.filter((s): s is StoredResource => s !== undefined);
  }

  /** A CBO's update of a Task it sees redacted: only status, statusReason and output count. */
  private async unredact(tx: StoreTransaction, input: Resource): Promise<Resource> {
    if (tx.actor.role !== 'cbo' || input.resourceType !== 'Task' || !input.id) return input;
    const existing = await tx.current('Task', input.id, { forUpdate: true });
    if (!existing || existing.deleted || !existing.patientId) return input;
    if (await tx.coversActor(existing.patientId)) return input;
    return unredactTaskUpdate(existing.resource as Task, input as Task);
  }

  /** R4 validation (400) then the IG's rules (422) of a resource about to be stored. */
  validate(resource: unknown, resourceType: string, actor: RequestActor): Resource {
    const valid = assertValidFhirResource(resource, { expectedResourceType: resourceType });
    const issues = validateReferralRules(valid, { authoredByPlatform: actor.role === 'platform' });
    if (issues.length > 0) throw unprocessableIssues(issues);
    return valid;
  }

  private bodyOf(body: unknown, resourceType: string): Resource {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw badRequest('The body must be a FHIR resource (a JSON object)', undefined, 'structure');
    }
    const type = (body as { resourceType?: unknown }).resourceType;
    if (type !== resourceType) {
      throw badRequest(
        `The body is ${typeof type === 'string' ? `a ${type.slice(0, 64)}` : 'not a resource'}; expected a ${resourceType}`,
        'resourceType',
        'invalid',
      );
    }
    return withClientMeta(body as Resource);
  }

  /**
   * Looks up the match of a conditional create, claiming its key in the unique table when there
   * is none so that a concurrent twin waits for this transaction and then finds its resource.
   * Returns the existing resource, or undefined when `newId` may be created.
   */
  async resolveConditional(
    tx: StoreTransaction,
    resourceType: string,
    ifNoneExist: string,
    newId: string,
  ): Promise<StoredResource | undefined> {
    const query = conditionalQuery(resourceType, ifNoneExist);
    const request = parseSearchRequest(resourceType, query, { localBaseUrls: tx.localBaseUrls });
    if (request.filters.length === 0) {
      throw badRequest(
        'A conditional create needs at least one search parameter',
        undefined,
        'value',
      );
    }
    const find = async (): Promise<StoredResource | undefined | null> => {
      const ids = await tx.matchingIds(request, 2);
      if (ids.length > 1) throw severalMatches(resourceType, query);
      if (ids.length === 0) return null;
      return tx.current(resourceType, ids[0]);
    };
    const key = conditionalKey(tx.actor, query);
    const first = await find();
    if (first) return first;
    if (await tx.claimConditionalKey(resourceType, key, newId)) return undefined;
    // Another transaction holds (or held) the key: it has ended now; it may have created the match.
    for (let attempt = 0; attempt < 5; attempt++) {
      await tx.lockConditionalKey(resourceType, key);
      const again = await find();
      if (again) return again;
      if (await tx.moveConditionalKey(resourceType, key, newId)) return undefined;
    }
    throw new FhirError(409, [
      {
        severity: 'error',
        code: 'conflict',
        diagnostics: 'Concurrent conditional creates did not settle; retry',
      },
    ]);
  }

  async create(
    tx: StoreTransaction,
    resourceType: string,
    body: unknown,
    options: { ifNoneExist?: string; id?: string; validated?: Resource } = {},
  ): Promise<InteractionResult> {
    authorize(tx.actor, resourceType, 'create');
    const input = options.validated ?? this.bodyOf(body, resourceType);
    const id = options.id ?? tx.newId();
    const { id: _clientId, ...fields } = input;
    const resource = options.validated ?? this.validate({ ...fields, id }, resourceType, tx.actor);
    this.checkCreationRules(tx.actor, resource);
    await this.checkTenant(tx, resource, undefined);
    if (options.ifNoneExist !== undefined) {
      const existing = await this.resolveConditional(tx, resourceType, options.ifNoneExist, id);
      if (existing) return this.found(await this.view(tx, existing), 200);
    }
    const stored = await tx.write({ ...resource, id } as Resource, 'POST', undefined);
    return this.found(await this.view(tx, stored), 201);
  }

  checkCreationRules(actor: RequestActor, resource: Resource): void {
    if (resource.resourceType === 'Task' && isReferralTask(resource)) {
      const role = taskRoleOf(actor, undefined, resource) ?? 'requester';
      const result = checkTaskCreation(resource.status, role);
      if (!result.ok) throw result.error;
    }
  }

  /**
   * The tenant of a write (create, create-by-update, update; plain, batch or transaction entry):
   *  - a referral (Task, ServiceRequest) written by an EHR or a CBO names as `requester` an
   *    Organization only if it is the writer's own (or, on an update, the one already stored):
   *    nobody sends referrals in another organization's name (403);
   *  - a Consent is written only for a Patient the writer can read (403, the same whether that
   *    Patient is another's or does not exist): consent given for another organization's patient
   *    would disclose that patient to whoever the Consent names. Checked at the end of the
   *    transaction, so that a Bundle may create the Patient in any entry.
   * The platform and coordinators act for the whole network (the role policy keeps coordinators
   * from writing at all).
   */
  async checkTenant(
    tx: StoreTransaction,
    resource: Resource,
    existing: StoredResource | undefined,
  ): Promise<void> {
    const actor = tx.actor;
    if (actor.role === 'platform' || actor.role === 'coordinator') return;
    const type = resource.resourceType;
    if (type === 'Task' || type === 'ServiceRequest') {
      const requesterOf = (r: Resource | undefined) =>
        organizationIdOf(
          (r as { requester?: { reference?: string } } | undefined)?.requester?.reference,
          tx.localBaseUrls,
        );
      const declared = requesterOf(resource);
      if (
        declared !== undefined &&
        declared !== actor.organizationId &&
        declared !== requesterOf(existing?.resource)
      )
        throw forbidden(
          `${type}.requester must be the client's own organization (Organization/${actor.organizationId})`,
          `${type}.requester`,
        );
    }
    if (type === 'Consent') tx.defer(() => this.checkConsentPatient(tx, resource as Consent));
  }

  /** The Consent half of checkTenant, once the transaction's writes are done. */
  private async checkConsentPatient(tx: StoreTransaction, consent: Consent): Promise<void> {
    const refused = () =>
      forbidden(
        'Consent.patient must reference a Patient of this server that the client can read',
        'Consent.patient',
      );
    const local = patientIdOf(consent, tx.localBaseUrls);
    // consent_rules key a Consent by the patient id alone, whatever base its reference names.
    if (consent.patient?.reference !== undefined && !local) throw refused();
    const patients = new Set<string>(local ? [local] : []);
    for (const row of consentRuleRows(consent)) patients.add(row.patient_id);
    for (const patientId of patients) {
      const patient = await tx.current('Patient', patientId);
      if (!patient || patient.deleted) throw refused();
    }
  }

  private found(stored: StoredResource, status: number): InteractionResult {
    return {
      status,
      body: stored.resource,
      stored,
      location: VERSIONED_RESOURCE_LOCATION(this.base, stored),
    };
  }

  async read(tx: StoreTransaction, resourceType: string, id: string): Promise<InteractionResult> {
    authorize(tx.actor, resourceType, 'read');
    assertId(id);
    const current = await tx.current(resourceType, id);
    if (!current) throw notFound(`${resourceType}/${id} is not known`);
    const stored = await this.view(tx, current);
    if (stored.deleted) throw gone(`${resourceType}/${id} was deleted`);
    return { status: 200, body: stored.resource, stored };
  }

  async vread(
    tx: StoreTransaction,
    resourceType: string,
    id: string,
    versionId: string,
  ): Promise<InteractionResult> {
    authorize(tx.actor, resourceType, 'vread');
    assertId(id);
    if (!/^\d{1,9}$/.test(versionId))
      throw notFound(`${resourceType}/${id} has no version ${versionId.slice(0, 20)}`);
    const version = await tx.version(resourceType, id, Number(versionId));
    if (!version) throw notFound(`${resourceType}/${id} has no version ${versionId}`);
    const stored = await this.view(tx, version);
    if (stored.deleted) throw gone(`${resourceType}/${id} version ${versionId} is a deletion`);
    return { status: 200, body: stored.resource, stored };
  }

  async update(
    tx: StoreTransaction,
    resourceType: string,
    id: string,
    body: unknown,
    options: { ifMatch?: number } = {},
  ): Promise<InteractionResult> {
    authorize(tx.actor, resourceType, 'update');
    assertId(id);
    const input = this.bodyOf(body, resourceType);
    if (input.id === undefined)
      throw badRequest(
        'The resource must have an id equal to the one in the URL',
        `${resourceType}.id`,
        'required',
      );
    if (input.id !== id)
      throw badRequest(
        `The resource id "${String(input.id).slice(0, 64)}" differs from the URL id "${id}"`,
        `${resourceType}.id`,
        'value',
      );
    const resource = this.validate(await this.unredact(tx, input), resourceType, tx.actor);
    let existing = await tx.current(resourceType, id, { forUpdate: true });
    if (!existing && (await tx.exists(resourceType, id))) {
      // Either another tenant's (404), or made by a concurrent create-by-update that committed
      // after the read above: a new read sees it, and this request updates it.
      existing = await tx.current(resourceType, id, { forUpdate: true });
      if (!existing) throw notFound(`${resourceType}/${id} is not known`);
    }
    if (!existing) {
      if (options.ifMatch !== undefined)
        throw preconditionFailed(
          `${resourceType}/${id} does not exist (If-Match ${etagOf(options.ifMatch)})`,
        );
      // Create-by-update is a create: the token and the role must allow creating this type.
      authorize(tx.actor, resourceType, 'create');
      this.checkCreationRules(tx.actor, resource);
      await this.checkTenant(tx, resource, undefined);
      return this.found(await this.view(tx, await tx.write(resource, 'PUT', undefined)), 201);
    }
    if (existing.deleted) {
      authorize(tx.actor, resourceType, 'create');
      this.checkCreationRules(tx.actor, resource);
      await this.checkTenant(tx, resource, undefined);
      return this.found(await this.view(tx, await tx.write(resource, 'PUT', existing)), 201);
    }
    await this.checkTenant(tx, resource, existing);
    if (resourceType === 'Task' && options.ifMatch === undefined) {
      throw new FhirError(428, [
        {
          severity: 'error',
          code: 'required',
          diagnostics: 'Updating a Task requires If-Match with its current ETag (W/"<versionId>")',
        },
      ]);
    }
    if (options.ifMatch !== undefined && options.ifMatch !== existing.versionId) {
      throw preconditionFailed(
        `${resourceType}/${id} is at version ${existing.versionId}, not ${options.ifMatch} (If-Match): read it again`,
      );
    }
    if (
      resourceType === 'Task' &&
      (isReferralTask(existing.resource as Task) || isReferralTask(resource as Task))
    ) {
      const role = taskRoleOf(tx.actor, existing, existing.resource as Task);
      if (!role)
        throw forbidden(`Only the requester or the owner may update ${resourceType}/${id}`);
      const problem = checkTaskUpdate(
        existing.resource as Task,
        {
          ...(resource as Task),
          meta: {
            ...resource.meta,
            versionId: existing.resource.meta?.versionId,
            lastUpdated: existing.resource.meta?.lastUpdated,
          },
        },
        role,
      );
      if (problem) throw problem;
      const platformProblem = checkPlatformTaskChanges(tx.actor, existing, {
        ...(resource as Task),
        meta: {
          ...resource.meta,
          versionId: existing.resource.meta?.versionId,
          lastUpdated: existing.resource.meta?.lastUpdated,
        },
      });
      if (platformProblem) throw platformProblem;
    }
    if (resourceType === 'ServiceRequest') {
      const problem = checkPlatformServiceRequestChanges(tx.actor, existing, {
        ...(resource as ServiceRequest),
        meta: {
          ...resource.meta,
          versionId: existing.resource.meta?.versionId,
          lastUpdated: existing.resource.meta?.lastUpdated,
        },
      });
      if (problem) throw problem;
    }
    const stored = await tx.write(resource, 'PUT', existing);
    return this.found(await this.view(tx, stored), 200);
  }

  /**
   * PATCH with a JSON Patch document: applied to the resource as the actor sees it (a CBO without
   * consent patches its redacted Task, as it would PUT it), then stored by the same rules as an
   * update — validation, the Task state machine, tenancy. Without If-Match the version read here,
   * under the row lock, is the one patched, so a concurrent write cannot be overwritten.
   */
  async patch(
    tx: StoreTransaction,
    resourceType: string,
    id: string,
    document: unknown,
    options: { ifMatch?: number } = {},
  ): Promise<InteractionResult> {
    authorize(tx.actor, resourceType, 'patch');
    assertId(id);
    const existing = await tx.current(resourceType, id, { forUpdate: true });
    if (!existing) throw notFound(`${resourceType}/${id} is not known`);
    if (existing.deleted) throw gone(`${resourceType}/${id} was deleted`);
    if (options.ifMatch !== undefined && options.ifMatch !== existing.versionId) {
      throw preconditionFailed(
        `${resourceType}/${id} is at version ${existing.versionId}, not ${options.ifMatch} (If-Match): read it again`,
      );
    }
    const seen = await this.view(tx, existing);
    const patched = applyJsonPatch(seen.resource, document);
    return this.update(tx, resourceType, id, patched, { ifMatch: existing.versionId });
  }

  async delete(tx: StoreTransaction, resourceType: string, id: string): Promise<InteractionResult> {
    authorize(tx.actor, resourceType, 'delete');
    assertId(id);
    if (resourceType === 'Task') {
      throw methodNotAllowed(
        'Tasks are not deleted: set status entered-in-error (requester) instead',
      );
    }
    const existing = await tx.current(resourceType, id, { forUpdate: true });
    if (!existing) throw notFound(`${resourceType}/${id} is not known`);
    if (existing.deleted) return { status: 204 };
    const stored = await tx.write(existing.resource, 'DELETE', existing, { deleted: true });
    return { status: 204, stored };
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
    });
    // _include/_revinclude of types the actor may not read are dropped silently.
    const actor = tx.actor;
    request.include = request.include.filter(
      (i) => i.targetType === undefined || actorMay(actor, i.targetType, 'read'),
    );
    request.revinclude = request.revinclude.filter((i) => actorMay(actor, i.sourceType, 'read'));
    if (!query.has('_count')) request.count = this.limits.defaultCount;
    request.count = Math.min(request.count, this.limits.maxCount);
    if (this.limits.maxSearchCost !== undefined)
      checkSearchCost(
        searchCost(request.count, request.include.length + request.revinclude.length, this.limits),
        { maxSearchCost: this.limits.maxSearchCost },
      );
    const withTotal = request.total !== 'none';
    const found = await tx.search(request, { withTotal });
    const result = {
      ...found,
      included: found.included.filter((s) => actorMay(actor, s.resourceType, 'read')),
    };
    const selfQuery = pageQuery(query, { offset: request.offset, count: request.count });
    const links: NonNullable<Bundle['link']> = [
      { relation: 'self', url: `${this.base}/${resourceType}?${selfQuery.toString()}` },
    ];
    const more = withTotal
      ? request.offset + request.count < result.total
      : result.matches.length === request.count;
    if (request.summary !== 'count' && request.count > 0 && more) {
      const next = pageQuery(query, {
        offset: request.offset + request.count,
        count: request.count,
      });
      links.push({ relation: 'next', url: `${this.base}/${resourceType}?${next.toString()}` });
    }
    if (request.offset > 0 && request.count > 0) {
      const previous = pageQuery(query, {
        offset: Math.max(0, request.offset - request.count),
        count: request.count,
      });
      links.push({
        relation: 'previous',
        url: `${this.base}/${resourceType}?${previous.toString()}`,
      });
    }
    const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset', link: links };
    if (withTotal) bundle.total = result.total;
    const entries: BundleEntry[] = [
      ...(await this.viewAll(tx, result.matches, request.filters)).map((s) =>
        this.entryOf(s, 'match'),
      ),
      ...(await this.viewAll(tx, result.included)).map((s) => this.entryOf(s, 'include')),
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
    const { entries, total } = await tx.history({ resourceType, id, since, count, offset });
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
      total,
      link: links,
      entry: (await this.viewAll(tx, entries)).map((s) => {
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
