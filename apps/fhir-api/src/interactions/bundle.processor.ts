import { Logger } from '@nestjs/common';
import type { Bundle, BundleEntry, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { unsafeQueryProblem } from '@carerelay/http';
import { safeErrorStack } from '@carerelay/persistence';
import {
  badRequest,
  collectReferences,
  FhirError,
  parseSearchRequest,
  preconditionFailed,
  rewriteReferences,
} from '@carerelay/fhir';
import { toFhirHttpError } from '../http/fhir-exception.filter';
import type { RequestActor } from '../request-actor';
import type { AuditSubtype } from '../audit/audit-event.builder';
import type { AuditService } from '../audit/audit.service';
import type { ResourceStore } from '../store/resource.store';
import type { StoreTransaction } from '../store/store.transaction';
import { AuditedStore, type AuditWhat } from './audited';
import { bundleCost, checkBundleCost, type CostLimits } from './cost';
import { conditionalQuery, conditionalUpdateTarget, singleMatch } from './conditional';
import { etagOf, parseIfMatch } from './etag';
import type { Interaction } from '../auth/scopes';
import type { FhirInteractions } from './fhir.interactions';
import type { InteractionResult } from './interaction.results';
import { assertSupportedType, authorize } from './interaction.rules';

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

interface ParsedEntry {
  index: number;
  method: Method;
  /** Path relative to the base: `Patient`, `Patient/1`, `Patient/1/_history/2`. */
  path: string[];
  query: URLSearchParams;
  fullUrl?: string;
  resource?: Resource;
  ifMatch?: number;
  ifNoneExist?: string;
  /** The search of a conditional update or delete (`PUT Type?…`, `DELETE Type?…`). */
  criteria?: string;
}

const URN = /^urn:(uuid|oid):/;
/** A conditional reference (transactions only, R4 http 3.1.0.11.2): `Patient?identifier=…`. */
const CONDITIONAL_REFERENCE = /^([A-Z][A-Za-z]{0,63})\?(.+)$/;

/** A query with its parameters sorted: `a=1&b=2` and `b=2&a=1` are the same condition. */
const sortedQuery = (query: URLSearchParams): string =>
  [...query.entries()]
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .sort()
    .join('&');
/** FHIR's processing order inside a transaction. */
const ORDER: Record<Method, number> = { DELETE: 0, POST: 1, PUT: 2, GET: 3 };

const STATUS_TEXT: Record<number, string> = {
  200: '200 OK',
  201: '201 Created',
  204: '204 No Content',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  409: '409 Conflict',
  410: '410 Gone',
  412: '412 Precondition Failed',
  422: '422 Unprocessable Entity',
  428: '428 Precondition Required',
  500: '500 Internal Server Error',
};
export const statusLine = (status: number): string => STATUS_TEXT[status] ?? String(status);

/** The AuditEvent subtype (R4 restful-interaction) of each interaction. */
const AUDIT_SUBTYPE: Record<Interaction, AuditSubtype> = {
  read: 'read',
  vread: 'vread',
  history: 'history-instance',
  'history-type': 'history-type',
  search: 'search-type',
  create: 'create',
  update: 'update',
  patch: 'patch',
  delete: 'delete',
};

/** The interaction an entry asks for (what its scope must grant). */
function interactionOf(entry: ParsedEntry): Interaction {
  switch (entry.method) {
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'DELETE':
      return 'delete';
    case 'GET': {
      const [, id, history, version] = entry.path;
      if (id === undefined) return 'search';
      if (id === '_history') return 'history-type';
      if (history === undefined) return 'read';
      return version === undefined ? 'history' : 'vread';
    }
  }
}

/**
 * Expressions of an error raised by entry i, made to point into the Bundle: `Task.focus` →
 * `Bundle.entry[3].resource.focus`; an issue without expression gets `Bundle.entry[3]`.
 */
export function locateInBundle(error: FhirError, index: number, resourceType?: string): FhirError {
  const prefix = `Bundle.entry[${index}]`;
  const issues = error.issues.map((issue) => {
    const expression = (issue.expression ?? []).map((e) => {
      if (e.startsWith('Bundle.')) return e;
      if (
        resourceType &&
        (e === resourceType || e.startsWith(`${resourceType}.`) || e.startsWith(`${resourceType}[`))
      ) {
        return `${prefix}.resource${e.slice(resourceType.length)}`;
      }
      return `${prefix}.resource.${e}`;
    });
    return { ...issue, expression: expression.length > 0 ? expression : [prefix] };
  });
  return new FhirError(error.status, issues);
}

/** The method and url of each entry that has them (what its cost is computed from). */
function requestsOf(rawEntries: unknown[]): Array<{ method: string; url: string }> {
  const requests: Array<{ method: string; url: string }> = [];
  for (const raw of rawEntries) {
    const request = (raw as BundleEntry | null)?.request;
    if (typeof request?.method === 'string' && typeof request.url === 'string')
      requests.push({ method: request.method, url: request.url });
    else requests.push({ method: 'POST', url: '' });
  }
  return requests;
}

/**
 * Transaction Bundles (atomic: one database transaction, `urn:uuid:` references rewritten,
 * `ifNoneExist` per entry, rolled back as a whole on the first failing entry) and batch Bundles
 * (each entry on its own).
 */
export class BundleProcessor {
  private readonly audited: AuditedStore;
  private readonly logger = new Logger('BundleProcessor');

  constructor(
    store: ResourceStore,
    private readonly interactions: FhirInteractions,
    private readonly maxEntries: number,
    audit?: AuditService,
    private readonly cost?: CostLimits,
  ) {
    this.audited = new AuditedStore(store, audit);
  }

  async process(actor: RequestActor, body: unknown): Promise<Bundle> {
    if (
      typeof body !== 'object' ||
      body === null ||
      Array.isArray(body) ||
      (body as Resource).resourceType !== 'Bundle'
    ) {
      throw badRequest(
        'POST to the base expects a Bundle of type transaction or batch',
        'resourceType',
        'invalid',
      );
    }
    const bundle = body as Bundle;
    if (bundle.type !== 'transaction' && bundle.type !== 'batch') {
      throw badRequest(
        `Bundle.type must be transaction or batch, not ${JSON.stringify(bundle.type ?? null)?.slice(0, 40)}`,
        'Bundle.type',
        'value',
      );
    }
    const rawEntries: unknown = bundle.entry ?? [];
    if (!Array.isArray(rawEntries))
      throw badRequest('Bundle.entry must be an array', 'Bundle.entry', 'structure');
    if (rawEntries.length > this.maxEntries) {
      throw badRequest(
        `A Bundle may have at most ${this.maxEntries} entries`,
        'Bundle.entry',
        'value',
      );
    }
    if (this.cost) checkBundleCost(bundleCost(requestsOf(rawEntries), this.cost), this.cost);
    if (bundle.type === 'batch') return this.batch(actor, rawEntries);
    const entries = rawEntries.map((entry, index) => this.parseEntry(entry, index));
    const fullUrls = new Set<string>();
    for (const entry of entries) {
      if (entry.fullUrl === undefined) continue;
      if (fullUrls.has(entry.fullUrl)) {
        throw badRequest(
          `fullUrl ${entry.fullUrl} appears twice`,
          `Bundle.entry[${entry.index}].fullUrl`,
          'value',
        );
      }
      fullUrls.add(entry.fullUrl);
    }
    // Every entry's scope first: a 403 names the entry and the missing scope, nothing is written.
    for (const entry of entries) {
      try {
        authorize(actor, entry.path[0], interactionOf(entry));
      } catch (error) {
        const located =
          error instanceof FhirError ? locateInBundle(error, entry.index, entry.path[0]) : error;
        await this.audited.recordFailure(actor, { subtype: 'transaction' }, located);
        throw located;
      }
    }
    // One AuditEvent per transaction, naming every resource it touched, in its transaction.
    return this.audited.write(actor, { subtype: 'transaction' }, async (tx) => ({
      resourceType: 'Bundle',
      type: 'transaction-response',
      entry: await this.transaction(tx, entries),
    }));
  }

  private parseEntry(raw: unknown, index: number): ParsedEntry {
    const where = `Bundle.entry[${index}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw badRequest('A Bundle entry must be an object', where, 'structure');
    }
    const entry = raw as BundleEntry;
    const request = entry.request;
    if (typeof request !== 'object' || request === null)
      throw badRequest('entry.request is required', `${where}.request`, 'required');
    const method = request.method as string;
    if (!['GET', 'POST', 'PUT', 'DELETE'].includes(method)) {
      throw badRequest(
        `entry.request.method ${JSON.stringify(method ?? null)?.slice(0, 20)} is not supported`,
        `${where}.request.method`,
        'not-supported',
      );
    }
    if (typeof request.url !== 'string' || request.url === '') {
      throw badRequest('entry.request.url is required', `${where}.request.url`, 'required');
    }
    let url = request.url;
    const urlProblem = unsafeQueryProblem(url);
    if (urlProblem)
      throw badRequest(`entry.request.url ${urlProblem}`, `${where}.request.url`, 'value');
    const base = this.interactions.base;
    if (url.startsWith(`${base}/`)) url = url.slice(base.length + 1);
    if (/^[a-z]+:/i.test(url) || url.startsWith('/')) {
      throw badRequest(
        `entry.request.url must be relative to this server: ${url.slice(0, 100)}`,
        `${where}.request.url`,
        'value',
      );
    }
    const q = url.indexOf('?');
    const pathText = q === -1 ? url : url.slice(0, q);
    const query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
    const path = pathText.split('/').filter((p) => p !== '');
    if (path.length === 0)
      throw badRequest('entry.request.url names no resource type', `${where}.request.url`, 'value');
    const parsed: ParsedEntry = { index, method: method as Method, path, query };
    if (typeof entry.fullUrl === 'string') parsed.fullUrl = entry.fullUrl;
    if (method === 'POST' || method === 'PUT') {
      if (
        typeof entry.resource !== 'object' ||
        entry.resource === null ||
        Array.isArray(entry.resource)
      ) {
        throw badRequest(`A ${method} entry needs a resource`, `${where}.resource`, 'required');
      }
      parsed.resource = entry.resource;
      if (method === 'POST' && (path.length !== 1 || q !== -1)) {
        throw badRequest(
          'A POST entry url is the resource type (conditional create uses ifNoneExist)',
          `${where}.request.url`,
          'value',
        );
      }
    }
    if (method === 'PUT' || method === 'DELETE') {
      const criteria = q === -1 ? '' : url.slice(q + 1);
      if (path.length === 1 && criteria !== '') parsed.criteria = criteria;
      else if (path.length !== 2 || q !== -1) {
        throw badRequest(
          `A ${method} entry url is Type/id, or Type?criteria for a conditional ${method === 'PUT' ? 'update' : 'delete'}`,
          `${where}.request.url`,
          'value',
        );
      }
    }
    if (request.ifMatch !== undefined) {
      try {
        parsed.ifMatch = parseIfMatch(String(request.ifMatch));
      } catch (error) {
        throw locateInBundle(error as FhirError, index);
      }
    }
    if (request.ifNoneExist !== undefined) {
      if (method !== 'POST' || typeof request.ifNoneExist !== 'string') {
        throw badRequest(
          'ifNoneExist is a query string on a POST entry',
          `${where}.request.ifNoneExist`,
          'value',
        );
      }
      parsed.ifNoneExist = request.ifNoneExist;
    }
    return parsed;
  }

  private async transaction(tx: StoreTransaction, entries: ParsedEntry[]): Promise<BundleEntry[]> {
    const responses: BundleEntry[] = new Array(entries.length);
    const ids = new Map<string, string>(); // fullUrl → Type/id
    const newIds = new Map<number, string>();
    const created = new Map<number, string>(); // POST entry index → Type/id (new or matched)
    const ordered = [...entries].sort(
      (a, b) => ORDER[a.method] - ORDER[b.method] || a.index - b.index,
    );

    // 1. Ids: a POST gets a new id or, with ifNoneExist, the id of the resource that matches; a
    // conditional update or delete becomes the plain one of the resource its criteria match.
    for (const entry of ordered) {
      const type = entry.path[0];
      await this.locate(entry, async () => {
        assertSupportedType(type);
        if (entry.criteria !== undefined) {
          const target = await this.resolveCriteria(tx, entry);
          if (target === undefined) {
            // A conditional delete that matches nothing deletes nothing.
            responses[entry.index] = this.responseEntry({ status: 200 });
            return;
          }
          entry.path = [type, target];
        }
        if (entry.method === 'POST') {
          if ((entry.resource as Resource).resourceType !== type) {
            throw badRequest(`The resource is not a ${type}`, 'resourceType', 'invalid');
          }
          const newId = tx.newId();
          let target = newId;
          if (entry.ifNoneExist !== undefined) {
            const existing = await this.interactions.resolveConditional(
              tx,
              type,
              entry.ifNoneExist,
              newId,
            );
            if (existing) {
              target = existing.id;
              const shown = await this.interactions.view(tx, existing);
              responses[entry.index] = this.responseEntry({
                status: 200,
                body: shown.resource,
                stored: shown,
              });
            }
          }
          if (target === newId) newIds.set(entry.index, newId);
          created.set(entry.index, `${type}/${target}`);
          if (entry.fullUrl) ids.set(entry.fullUrl, `${type}/${target}`);
        } else if (entry.method === 'PUT' && entry.fullUrl) {
          ids.set(entry.fullUrl, `${type}/${entry.path[1]}`);
        }
      });
    }

    // The resources this transaction changes in place, locked in one global order up front.
    await tx.lockInOrder(
      ordered
        .filter((e) => (e.method === 'PUT' || e.method === 'DELETE') && e.path[1] !== undefined)
        .map((e) => ({ resourceType: e.path[0], id: e.path[1] })),
    );

    // 2. In FHIR order: deletes, creates, updates, reads; references rewritten first.
    for (const entry of ordered) {
      if (responses[entry.index]) continue;
      const type = entry.path[0];
      tx.locateDeferred = (error) =>
        error instanceof FhirError ? locateInBundle(error, entry.index, type) : error;
      const result = await this.locate(entry, async () => {
        if (entry.resource)
          await this.resolveConditionalReferences(tx, entry.resource, entries, created, ids);
        const resource = entry.resource ? rewriteReferences(entry.resource, ids) : undefined;
        if (resource) this.assertNoDanglingUrns(resource);
        switch (entry.method) {
          case 'DELETE':
            return this.interactions.delete(tx, type, entry.path[1]);
          case 'POST':
            return this.interactions.create(tx, type, resource, { id: newIds.get(entry.index) });
          case 'PUT':
            return this.interactions.update(tx, type, entry.path[1], resource, {
              ifMatch: entry.ifMatch,
            });
          case 'GET':
            return this.read(tx, entry);
        }
      });
      responses[entry.index] = this.responseEntry(result);
    }
    return responses;
  }

  /**
   * The id a conditional entry acts on, as the REST interaction decides it: an update's one match
   * or, with none, the body's id or a new one (its key claimed against concurrent twins); a
   * delete's one match, or undefined. Several matches: 412.
   */
  private async resolveCriteria(
    tx: StoreTransaction,
    entry: ParsedEntry,
  ): Promise<string | undefined> {
    const type = entry.path[0];
    const criteria = entry.criteria!;
    if (entry.method === 'DELETE') return (await singleMatch(tx, type, criteria, 'delete'))?.id;
    const resource = entry.resource as Resource;
    if (resource.resourceType !== type)
      throw badRequest(`The resource is not a ${type}`, 'resourceType', 'invalid');
    const { id } = await conditionalUpdateTarget(tx, type, criteria, resource, entry.ifMatch);
    entry.resource = { ...resource, id };
    return id;
  }

  /**
   * Adds to `ids` what each conditional reference of `resource` resolves to: the resource an entry
   * of this Bundle creates under the same condition (its ifNoneExist), else the one resource the
   * search finds (in this transaction, so earlier entries count). None or several: 412.
   */
  private async resolveConditionalReferences(
    tx: StoreTransaction,
    resource: Resource,
    entries: ParsedEntry[],
    created: ReadonlyMap<number, string>,
    ids: Map<string, string>,
  ): Promise<void> {
    for (const found of collectReferences(resource)) {
      const reference = found.reference.reference ?? '';
      const match = CONDITIONAL_REFERENCE.exec(reference);
      if (!match || ids.has(reference)) continue;
      const [, type, text] = match;
      const where = `${found.path}.reference`;
      assertSupportedType(type);
      const query = conditionalQuery(type, text);
      const condition = sortedQuery(query);
      const twin = entries.find(
        (e) =>
          e.method === 'POST' &&
          e.path[0] === type &&
          e.ifNoneExist !== undefined &&
          sortedQuery(conditionalQuery(type, e.ifNoneExist)) === condition,
      );
      const twinTarget = twin && created.get(twin.index);
      if (twinTarget) {
        ids.set(reference, twinTarget);
        continue;
      }
      const request = parseSearchRequest(type, query, { localBaseUrls: tx.localBaseUrls });
      if (request.filters.length === 0)
        throw badRequest(
          `Conditional reference ${reference} has no search parameter`,
          where,
          'value',
        );
      const matches = await tx.matchingIds(request, 2);
      if (matches.length !== 1) {
        const error = preconditionFailed(
          `Conditional reference ${reference.slice(0, 200)} matches ${matches.length === 0 ? 'no' : 'several'} ${type} resources`,
        );
        error.issues.forEach((i) => (i.expression = [where]));
        throw error;
      }
      ids.set(reference, `${type}/${matches[0]}`);
    }
  }

  private assertNoDanglingUrns(resource: Resource): void {
    for (const found of collectReferences(resource)) {
      if (URN.test(found.reference.reference ?? '')) {
        throw badRequest(
          `Reference ${found.reference.reference} matches no fullUrl in the Bundle`,
          `${found.path}.reference`,
          'value',
        );
      }
    }
  }

  private async read(tx: StoreTransaction, entry: ParsedEntry): Promise<InteractionResult> {
    const [type, id, history, version, ...rest] = entry.path;
    if (rest.length > 0) throw badRequest('Unsupported entry url', 'request.url', 'not-supported');
    if (id === undefined) return this.interactions.search(tx, type, entry.query);
    if (id === '_history' && history === undefined)
      return this.interactions.history(tx, type, undefined, entry.query);
    if (history === undefined) return this.interactions.read(tx, type, id);
    if (history !== '_history')
      throw badRequest('Unsupported entry url', 'request.url', 'not-supported');
    if (version === undefined) return this.interactions.history(tx, type, id, entry.query);
    return this.interactions.vread(tx, type, id, version);
  }

  private async locate<T>(entry: ParsedEntry, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof FhirError) throw locateInBundle(error, entry.index, entry.path[0]);
      throw error;
    }
  }

  private responseEntry(result: InteractionResult): BundleEntry {
    const entry: BundleEntry = { response: { status: statusLine(result.status) } };
    if (result.stored) {
      const s = result.stored;
      entry.fullUrl = `${this.interactions.base}/${s.resourceType}/${s.id}`;
      entry.response = {
        status: statusLine(result.status),
        location: `${s.resourceType}/${s.id}/_history/${s.versionId}`,
        etag: etagOf(s.versionId),
        lastModified: s.lastUpdated,
      };
    }
    if (result.body) entry.resource = result.body;
    return entry;
  }

  private async batch(actor: RequestActor, rawEntries: unknown[]): Promise<Bundle> {
    const responses: BundleEntry[] = [];
    for (let index = 0; index < rawEntries.length; index++) {
      try {
        const entry = this.parseEntry(rawEntries[index], index);
        if (entry.resource) this.assertNoDanglingUrns(entry.resource);
        const type = entry.path[0];
        const interaction = interactionOf(entry);
        const what: AuditWhat = {
          subtype: AUDIT_SUBTYPE[interaction],
          resourceType: type,
          ids: entry.path.length > 1 ? [entry.path.join('/')] : undefined,
          query: interaction === 'search' ? entry.query.toString() : undefined,
        };
        const run = (tx: StoreTransaction) =>
          this.locate(entry, async () => {
            switch (entry.method) {
              case 'DELETE':
                return entry.criteria !== undefined
                  ? this.interactions.conditionalDelete(tx, type, entry.criteria)
                  : this.interactions.delete(tx, type, entry.path[1]);
              case 'POST':
                return this.interactions.create(tx, type, entry.resource, {
                  ifNoneExist: entry.ifNoneExist,
                });
              case 'PUT':
                return entry.criteria !== undefined
                  ? this.interactions.conditionalUpdate(tx, type, entry.criteria, entry.resource, {
                      ifMatch: entry.ifMatch,
                    })
                  : this.interactions.update(tx, type, entry.path[1], entry.resource, {
                      ifMatch: entry.ifMatch,
                    });
              case 'GET':
                return this.read(tx, entry);
            }
          });
        const result =
          entry.method === 'GET'
            ? await this.audited.read(actor, what, run)
            : await this.audited.write(actor, what, run);
        responses.push(this.responseEntry(result));
      } catch (error) {
        const fhirError =
          error instanceof FhirError ? locateInBundle(error, index) : toFhirHttpError(error);
        // Only the error's kind: a driver's message may quote the entry's resource.
        if (!(error instanceof FhirError))
          this.logger.error(`batch entry failed: ${safeErrorStack(error)}`);
        const outcome: OperationOutcome = fhirError.toOperationOutcome();
        responses.push({ response: { status: statusLine(fhirError.status), outcome } });
      }
    }
    return { resourceType: 'Bundle', type: 'batch-response', entry: responses };
  }
}
