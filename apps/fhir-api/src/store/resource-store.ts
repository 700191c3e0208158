import { randomUUID } from 'node:crypto';
import type { Consent, Resource, Task } from '@medplum/fhirtypes';
import { DataSource, EntityManager } from 'typeorm';
import { EventTypes } from '@carerelay/contracts';
import { OutboxWriter } from '@carerelay/messaging';
import { currentTraceparent } from '@carerelay/observability';
import type { RequestActor } from '../request-actor';
import {
  extractSearchIndex,
  type FhirSearchRequest,
  type IncludeParam,
  parseReference,
} from '@carerelay/fhir';
import { filterCondition } from './search-sql';
import { SqlParams } from './sql';
import {
  consentRuleRows,
  coveredSql,
  matchesOnPatientData,
  patientIdOf,
  readableFilter,
  redactTask,
} from './consent-access';
import { involvedOrganizations, organizationsOf, type ResourceOrganizations } from './visibility';

export type WriteMethod = 'POST' | 'PUT' | 'DELETE';

export interface StoredResource {
  resourceType: string;
  id: string;
  versionId: number;
  lastUpdated: string;
  deleted: boolean;
  method?: WriteMethod;
  resource: Resource;
  orgs: ResourceOrganizations;
  /** The Patient the resource is about (of its current version), if any. */
  patientId?: string | null;
}

export interface StoreOptions {
  schema: string;
  localBaseUrls: () => readonly string[];
  attempts: number;
}

export interface SearchResult {
  matches: StoredResource[];
  total: number;
  included: StoredResource[];
}

interface ResourceRow {
  resource_type: string;
  id: string;
  version_id: number;
  deleted: boolean;
  method?: WriteMethod;
  content: Resource;
  requester_org: string | null;
  owner_org: string | null;
  other_orgs: string[];
  patient_id?: string | null;
}

const COLUMNS =
  'r.resource_type, r.id, r.version_id, r.deleted, r.content, r.requester_org, r.owner_org, r.other_orgs, r.patient_id';

/** jsonb keeps keys in its own order: put resourceType, id and meta first again. */
function ordered(content: Resource): Resource {
  const { resourceType, id, meta, ...rest } = content;
  return { resourceType, id, meta, ...rest } as Resource;
}

function toStored(row: ResourceRow): StoredResource {
  return {
    resourceType: row.resource_type,
    id: row.id,
    versionId: row.version_id,
    lastUpdated: row.content.meta?.lastUpdated ?? '',
    deleted: row.deleted,
    method: row.method,
    resource: ordered(row.content),
    orgs: {
      requesterOrg: row.requester_org,
      ownerOrg: row.owner_org,
      otherOrgs: row.other_orgs ?? [],
    },
    patientId: row.patient_id ?? null,
  };
}

/** A database error that a fresh attempt of the whole transaction may not hit again. */
export function isRetryable(error: unknown): boolean {
  const e = error as { code?: string; driverError?: { code?: string } };
  const code = e?.driverError?.code ?? e?.code;
  return code === '40001' || code === '40P01' || code === '23505';
}

/**
 * The versioned resource store. Every operation runs inside `run(actor, fn)`: one database
 * transaction (retried on serialization failures, deadlocks and unique-key races); every read
 * goes through visibilityFilter(actor); every write stores a new version, its history row, its
 * search index and its `fhir.changes.v1` event in that transaction.
 */
export class ResourceStore {
  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: OutboxWriter,
    private readonly options: StoreOptions,
  ) {}

  get schema(): string {
    return this.options.schema;
  }

  async run<T>(actor: RequestActor, fn: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.dataSource.transaction('READ COMMITTED', async (manager) => {
          const tx = new StoreTransaction(manager, actor, this.options, this.outbox);
          const result = await fn(tx);
          await tx.runDeferred();
          return result;
        });
      } catch (error) {
        if (attempt >= this.options.attempts || !isRetryable(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
      }
    }
  }
}

export class StoreTransaction {
  /** One instant for every write of the transaction. */
  readonly now = new Date().toISOString();
  private readonly s: string;

  constructor(
    readonly manager: EntityManager,
    readonly actor: RequestActor,
    private readonly options: StoreOptions,
    private readonly outbox: OutboxWriter,
  ) {
    this.s = `"${options.schema}"`;
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

  private async rows(sql: string, params: unknown[]): Promise<ResourceRow[]> {
    return (await this.manager.query(sql, params)) as ResourceRow[];
  }

  /** The current version (deleted or not) if the actor may see it; `forUpdate` locks the row. */
  async current(
    resourceType: string,
    id: string,
    options: { forUpdate?: boolean } = {},
  ): Promise<StoredResource | undefined> {
    const p = new SqlParams();
    const sql = `SELECT ${COLUMNS} FROM ${this.s}.resources r
      WHERE r.resource_type = ${p.add(resourceType)} AND r.id = ${p.add(id)}
        AND ${readableFilter(this.actor, 'r', p, this.options.schema)}${options.forUpdate ? ' FOR UPDATE' : ''}`;
    const [row] = await this.rows(sql, p.values);
    return row ? toStored(row) : undefined;
  }

  /**
   * Locks the current rows of these resources (those that exist), always in (type, id) order, so
   * that two transactions writing the same resources in different orders queue instead of
   * deadlocking. The later per-resource FOR UPDATE then finds its row already held.
   */
  async lockInOrder(keys: Array<{ resourceType: string; id: string }>): Promise<void> {
    if (keys.length === 0) return;
    const unique = [...new Map(keys.map((k) => [`${k.resourceType}/${k.id}`, k])).values()];
    await this.manager.query(
      `SELECT 1 FROM ${this.s}.resources r
        JOIN unnest($1::text[], $2::text[]) AS k(resource_type, id)
          ON r.resource_type = k.resource_type AND r.id = k.id
        ORDER BY r.resource_type COLLATE "C", r.id COLLATE "C"
        FOR UPDATE OF r`,
      [unique.map((k) => k.resourceType), unique.map((k) => k.id)],
    );
  }

  /** Does a resource with this id exist at all (visible or not)? For id collisions only. */
  async exists(resourceType: string, id: string): Promise<boolean> {
    const rows = await this.manager.query(
      `SELECT 1 FROM ${this.s}.resources WHERE resource_type = $1 AND id = $2`,
      [resourceType, id],
    );
    return rows.length > 0;
  }

  /** One version, if the actor may see the resource (judged on its current version). */
  async version(
    resourceType: string,
    id: string,
    versionId: number,
  ): Promise<StoredResource | undefined> {
    const p = new SqlParams();
    const sql = `SELECT h.resource_type, h.id, h.version_id, h.deleted, h.method, h.content,
        h.requester_org, h.owner_org, h.other_orgs, r.patient_id
      FROM ${this.s}.resource_history h
      JOIN ${this.s}.resources r ON r.resource_type = h.resource_type AND r.id = h.id
      WHERE h.resource_type = ${p.add(resourceType)} AND h.id = ${p.add(id)}
        AND h.version_id = ${p.add(versionId)} AND ${readableFilter(this.actor, 'r', p, this.options.schema)}`;
    const [row] = await this.rows(sql, p.values);
    return row ? toStored(row) : undefined;
  }

  /** `_history` of one resource or of a type: newest first, visible resources only. */
  async history(query: {
    resourceType: string;
    id?: string;
    since?: string;
    count: number;
    offset: number;
  }): Promise<{ entries: StoredResource[]; total: number }> {
    const p = new SqlParams();
    const where = [`h.resource_type = ${p.add(query.resourceType)}`];
    if (query.id !== undefined) where.push(`h.id = ${p.add(query.id)}`);
    if (query.since) where.push(`h.last_updated >= ${p.add(query.since)}::timestamptz`);
    where.push(readableFilter(this.actor, 'r', p, this.options.schema));
    const from = `FROM ${this.s}.resource_history h
      JOIN ${this.s}.resources r ON r.resource_type = h.resource_type AND r.id = h.id
      WHERE ${where.join(' AND ')}`;
    const [{ n }] = await this.manager.query(`SELECT count(*)::int AS n ${from}`, p.values);
    const rows = await this.rows(
      `SELECT h.resource_type, h.id, h.version_id, h.deleted, h.method, h.content,
         h.requester_org, h.owner_org, h.other_orgs, r.patient_id ${from}
       ORDER BY h.last_updated DESC, h.id, h.version_id DESC
       LIMIT ${p.add(query.count)} OFFSET ${p.add(query.offset)}`,
      p.values,
    );
    return { entries: rows.map(toStored), total: n as number };
  }

  /**
   * The conditions of a search: its type, current, readable by the actor (matched on patient data
   * when a filter looks at what redaction hides), and its filters.
   */
  private matching(request: FhirSearchRequest, p: SqlParams): string[] {
    return [
      `r.resource_type = ${p.add(request.resourceType)}`,
      'NOT r.deleted',
      readableFilter(this.actor, 'r', p, this.options.schema, {
        matchedOnPatientData: matchesOnPatientData(request.filters),
      }),
      ...request.filters.map((f) => filterCondition(f, this.options.schema, 'r', p)),
    ];
  }

  /** Search over the current, non-deleted, visible resources; `_include`/`_revinclude` too. */
  async search(
    request: FhirSearchRequest,
    options: { withTotal?: boolean } = {},
  ): Promise<SearchResult> {
    const p = new SqlParams();
    const where = this.matching(request, p);
    const from = `FROM ${this.s}.resources r WHERE ${where.join(' AND ')}`;
    let total = -1;
    if (options.withTotal !== false) {
      const [{ n }] = await this.manager.query(`SELECT count(*)::int AS n ${from}`, p.values);
      total = n as number;
    }
    if (request.summary === 'count' || request.count === 0) {
      return { matches: [], total, included: [] };
    }
    const descending = request.sort[0]?.descending ?? false;
    const direction = descending ? 'DESC' : 'ASC';
    const rows = await this.rows(
      `SELECT ${COLUMNS} ${from} ORDER BY r.last_updated ${direction}, r.id ${direction}
       LIMIT ${p.add(request.count)} OFFSET ${p.add(request.offset)}`,
      p.values,
    );
    const matches = rows.map(toStored);
    const included = await this.includes(request, matches);
    return { matches, total, included };
  }

  /** How many visible current resources match (for conditional create), at most `limit`. */
  async matchingIds(request: FhirSearchRequest, limit: number): Promise<string[]> {
    const p = new SqlParams();
    const where = this.matching(request, p);
    const rows = await this.manager.query(
      `SELECT r.id FROM ${this.s}.resources r WHERE ${where.join(' AND ')} ORDER BY r.id LIMIT ${p.add(limit)}`,
      p.values,
    );
    return (rows as { id: string }[]).map((row) => row.id);
  }

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
        await this.reverseInclude(
          include,
          [...seen].filter((k) => k.startsWith(`${request.resourceType}/`)),
        ),
      );
    return included;
  }

  private async forwardInclude(
    include: IncludeParam,
    sourceIds: string[],
  ): Promise<StoredResource[]> {
    const refs: { value_reference: string }[] = await this.manager.query(
      `SELECT DISTINCT value_reference FROM ${this.s}.search_index
       WHERE resource_type = $1 AND id = ANY($2::text[]) AND param = $3 AND value_reference IS NOT NULL`,
      [include.sourceType, sourceIds, include.param],
    );
    const types: string[] = [];
    const targetIds: string[] = [];
    for (const { value_reference } of refs) {
      const parsed = parseReference(value_reference);
      if (parsed?.kind !== 'relative') continue;
      if (include.targetType && parsed.resourceType !== include.targetType) continue;
      types.push(parsed.resourceType);
      targetIds.push(parsed.id);
    }
    if (types.length === 0) return [];
    const p = new SqlParams();
    const sql = `SELECT ${COLUMNS} FROM ${this.s}.resources r
      WHERE (r.resource_type, r.id) IN (SELECT * FROM unnest(${p.add(types)}::text[], ${p.add(targetIds)}::text[]))
        AND NOT r.deleted AND ${readableFilter(this.actor, 'r', p, this.options.schema)}`;
    return (await this.rows(sql, p.values)).map(toStored);
  }

  private async reverseInclude(
    include: IncludeParam,
    targets: string[],
  ): Promise<StoredResource[]> {
    const p = new SqlParams();
    const sql = `SELECT ${COLUMNS} FROM ${this.s}.resources r
      WHERE r.resource_type = ${p.add(include.sourceType)} AND NOT r.deleted
        AND EXISTS (SELECT 1 FROM ${this.s}.search_index si
          WHERE si.resource_type = r.resource_type AND si.id = r.id AND si.param = ${p.add(include.param)}
            AND si.value_reference = ANY(${p.add(targets)}::text[]))
        AND ${readableFilter(this.actor, 'r', p, this.options.schema)}
      ORDER BY r.last_updated, r.id LIMIT 1000`;
    return (await this.rows(sql, p.values)).map(toStored);
  }

  /**
   * Claims a conditional-create key (type + normalised query) for `id`. Returns false when
   * another transaction holds it (this call waits for that transaction to end first), so the
   * caller searches again and finds what the other one created.
   */
  async claimConditionalKey(resourceType: string, queryKey: string, id: string): Promise<boolean> {
    const rows = await this.manager.query(
      `INSERT INTO ${this.s}.conditional_create_keys (resource_type, query_key, id) VALUES ($1, $2, $3)
       ON CONFLICT (resource_type, query_key) DO NOTHING RETURNING id`,
      [resourceType, queryKey, id],
    );
    return rows.length > 0;
  }

  /** Waits for (and holds until commit) the row of a conditional-create key. */
  async lockConditionalKey(resourceType: string, queryKey: string): Promise<void> {
    await this.manager.query(
      `SELECT id FROM ${this.s}.conditional_create_keys WHERE resource_type = $1 AND query_key = $2 FOR UPDATE`,
      [resourceType, queryKey],
    );
  }

  /**
   * Points a key (locked by lockConditionalKey) at `id`: its former resource no longer matches
   * the query (changed or deleted).
   */
  async moveConditionalKey(resourceType: string, queryKey: string, id: string): Promise<boolean> {
    // TypeORM answers an UPDATE with [rows, affected].
    const [, affected] = (await this.manager.query(
      `UPDATE ${this.s}.conditional_create_keys SET id = $3, created_at = now()
       WHERE resource_type = $1 AND query_key = $2`,
      [resourceType, queryKey, id],
    )) as [unknown[], number];
    return affected > 0 || this.claimConditionalKey(resourceType, queryKey, id);
  }

  /** Keeps consent_rules of one Consent in step with its stored version (none once deleted). */
  private async recordConsentRules(
    consentId: string,
    consent: Resource | undefined,
  ): Promise<void> {
    await this.manager.query(`DELETE FROM ${this.s}.consent_rules WHERE consent_id = $1`, [
      consentId,
    ]);
    const rows = consent ? consentRuleRows(consent as Consent) : [];
    if (rows.length === 0) return;
    await this.manager.query(
      `INSERT INTO ${this.s}.consent_rules (consent_id, organization_key, patient_id, kind, active,
         period_start, period_end, usable, full_deny)
       SELECT x.consent_id, x.organization_key, x.patient_id, x.kind, x.active, x.period_start,
         x.period_end, x.usable, x.full_deny
       FROM jsonb_to_recordset($1::jsonb) AS x(consent_id text, organization_key text, patient_id text,
         kind text, active boolean, period_start timestamptz, period_end timestamptz, usable boolean,
         full_deny boolean)`,
      [JSON.stringify(rows)],
    );
  }

  /**
   * When the platform writes a Task addressed to another organization (a CBO), that organization
   * is granted the referral's patient data: the Patient, the focus ServiceRequest, the requests it
   * is basedOn, and the patient's Consents. Reading them still needs a covering consent.
   */
  private async grantTaskOwner(task: Task, patientId: string | null): Promise<void> {
    if (this.actor.role !== 'platform') return;
    const owner = task.owner?.reference ?? '';
    const ownerOrg = owner.startsWith('Organization/') ? owner.slice('Organization/'.length) : '';
    if (!ownerOrg || ownerOrg === this.actor.organizationId || !task.id) return;
    const targets: [string, string][] = [];
    if (patientId) targets.push(['Patient', patientId]);
    const focus = parseReference(task.focus?.reference ?? '');
    if (focus?.kind === 'relative' && focus.resourceType === 'ServiceRequest') {
      targets.push(['ServiceRequest', focus.id]);
      const rows: { ref: string | null }[] = await this.manager.query(
        `SELECT jsonb_array_elements(content->'basedOn')->>'reference' AS ref
           FROM ${this.s}.resources WHERE resource_type = 'ServiceRequest' AND id = $1`,
        [focus.id],
      );
      for (const { ref } of rows) {
        const based = parseReference(ref ?? '');
        if (based?.kind === 'relative' && based.resourceType === 'ServiceRequest')
          targets.push(['ServiceRequest', based.id]);
      }
    }
    if (targets.length > 0) {
      await this.manager.query(
        `INSERT INTO ${this.s}.access_grants (organization_id, resource_type, resource_id, patient_id, task_id)
         SELECT $1, t.type, t.id, $2, $3 FROM unnest($4::text[], $5::text[]) AS t(type, id)
         ON CONFLICT DO NOTHING`,
        [ownerOrg, patientId, task.id, targets.map((t) => t[0]), targets.map((t) => t[1])],
      );
    }
    if (patientId) {
      await this.manager.query(
        `INSERT INTO ${this.s}.access_grants (organization_id, resource_type, resource_id, patient_id, task_id)
         SELECT $1, 'Consent', id, $2, $3 FROM ${this.s}.resources
          WHERE resource_type = 'Consent' AND patient_id = $2
         ON CONFLICT DO NOTHING`,
        [ownerOrg, patientId, task.id],
      );
    }
  }

  /**
   * The outcome of a referral belongs to the organization that referred it. The organizations that
   * requested this Task, or the Task it is partOf (the referring EHR's), are granted what they
   * could not see by organization alone: this Task when it is partOf theirs, its focus and basedOn
   * requests (the CBO's filler order), and what its output references (the CBO's Procedure). The
   * owner is left out: its own access is the consent-gated grant of grantTaskOwner.
   */
  private async grantReferrers(
    task: Task,
    orgs: ResourceOrganizations,
    patientId: string | null,
  ): Promise<void> {
    if (!task.id) return;
    const relative = (reference: string | undefined) => {
      const parsed = parseReference(reference ?? '');
      return parsed?.kind === 'relative' ? parsed : undefined;
    };
    const parents = (task.partOf ?? [])
      .map((ref) => relative(ref.reference))
      .filter((ref) => ref?.resourceType === 'Task')
      .map((ref) => ref!.id);
    const targets: { type: string; id: string }[] = [];
    if (parents.length > 0) {
      targets.push({ type: 'Task', id: task.id });
      for (const ref of [task.focus, ...(task.basedOn ?? [])]) {
        const request = relative(ref?.reference);
        if (request) targets.push({ type: request.resourceType, id: request.id });
      }
    }
    for (const output of task.output ?? []) {
      const produced = relative(output.valueReference?.reference);
      if (produced) targets.push({ type: produced.resourceType, id: produced.id });
    }
    if (targets.length === 0) return;
    await this.manager.query(
      `INSERT INTO ${this.s}.access_grants (organization_id, resource_type, resource_id, patient_id, task_id)
       SELECT g.org, t.type, t.id, $1, $2
         FROM (SELECT requester_org AS org FROM ${this.s}.resources
                WHERE resource_type = 'Task' AND id = ANY($3::text[])
               UNION SELECT $4::text) AS g
        CROSS JOIN unnest($5::text[], $6::text[]) AS t(type, id)
        WHERE g.org IS NOT NULL AND g.org IS DISTINCT FROM $7::text
       ON CONFLICT DO NOTHING`,
      [
        patientId,
        task.id,
        parents,
        orgs.requesterOrg,
        targets.map((t) => t.type),
        targets.map((t) => t.id),
        orgs.ownerOrg,
      ],
    );
  }

  /**
   * THE disclosure decision for one stored resource the actor asked for through any channel (read,
   * vread, search and its includes, history, batch and transaction answers, conditional-create
   * matches, Subscription notifications): what the actor is shown of it, or undefined when
   * nothing. `stored` comes from a query under readableFilter (undefined: not readable); on top of
   * it, a CBO's referral Task whose patient no consent lets it see is shown redacted
   * (consent-access.ts redactTask: "awaiting consent") — or not at all when it was matched on
   * patient data (a search or subscription filter on what redaction hides).
   */
  async disclose(
    stored: StoredResource | undefined,
    options: { matchedOn?: readonly { param: string }[] } = {},
  ): Promise<StoredResource | undefined> {
    if (!stored) return undefined;
    if (this.actor.role !== 'cbo' || stored.resourceType !== 'Task' || stored.deleted)
      return stored;
    if (!stored.patientId || (await this.coversActor(stored.patientId))) return stored;
    if (options.matchedOn && matchesOnPatientData(options.matchedOn)) return undefined;
    return { ...stored, resource: redactTask(stored.resource as Task) };
  }

  private readonly covered = new Map<string, boolean>();

  /** Does a consent in force cover disclosing this patient's data to the (CBO) actor now? */
  async coversActor(patientId: string): Promise<boolean> {
    let answer = this.covered.get(patientId);
    if (answer === undefined) {
      const p = new SqlParams();
      const patient = p.add(patientId);
      const org = p.add(this.actor.organizationId);
      const [row] = await this.manager.query(
        `SELECT ${coveredSql(this.options.schema, patient, org)} AS covered`,
        p.values,
      );
      answer = (row as { covered: boolean }).covered === true;
      this.covered.set(patientId, answer);
    }
    return answer;
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
    const content = {
      ...resource,
      meta: { ...(resource.meta ?? {}), versionId: String(versionId), lastUpdated: this.now },
    } as Resource;
    const orgs = organizationsOf(
      content,
      { previous: previous?.orgs, actor: this.actor },
      this.localBaseUrls,
    );
    const resourceType = content.resourceType;
    const id = content.id as string;
    const patientId = patientIdOf(content, this.localBaseUrls);
    const values = [
      resourceType,
      id,
      versionId,
      this.now,
      deleted,
      content,
      orgs.requesterOrg,
      orgs.ownerOrg,
      orgs.otherOrgs,
    ];
    if (previous) {
      await this.manager.query(
        `UPDATE ${this.s}.resources SET version_id = $3, last_updated = $4, deleted = $5, content = $6,
           requester_org = $7, owner_org = $8, other_orgs = $9, patient_id = $10
         WHERE resource_type = $1 AND id = $2`,
        [...values, patientId],
      );
      await this.manager.query(
        `DELETE FROM ${this.s}.search_index WHERE resource_type = $1 AND id = $2`,
        [resourceType, id],
      );
    } else {
      await this.manager.query(
        `INSERT INTO ${this.s}.resources (resource_type, id, version_id, last_updated, deleted, content,
           requester_org, owner_org, other_orgs, patient_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [...values, patientId],
      );
    }
    await this.manager.query(
      `INSERT INTO ${this.s}.resource_history (resource_type, id, version_id, last_updated, deleted, content,
         requester_org, owner_org, other_orgs, method) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [...values, method],
    );
    if (!deleted) {
      const rows = extractSearchIndex(content, { localBaseUrls: this.localBaseUrls });
      if (rows.length > 0) {
        await this.manager.query(
          `INSERT INTO ${this.s}.search_index (resource_type, id, param, type, system, code, value_string,
             value_string_normalized, value_reference, value_date_start, value_date_end, value_number)
           SELECT $1, $2, x.param, x.type, x.system, x.code, x.value_string, x.value_string_normalized,
             x.value_reference, x.value_date_start, x.value_date_end, x.value_number
           FROM jsonb_to_recordset($3::jsonb) AS x(param text, type text, system text, code text,
             value_string text, value_string_normalized text, value_reference text,
             value_date_start timestamptz, value_date_end timestamptz, value_number float8)`,
          [resourceType, id, JSON.stringify(rows)],
        );
      }
    }
    if (resourceType === 'Consent')
      await this.recordConsentRules(id, deleted ? undefined : content);
    if (resourceType === 'Task' && !deleted) {
      await this.grantTaskOwner(content as Task, patientId);
      await this.grantReferrers(content as Task, orgs, patientId);
    }
    if (resourceType === 'Consent' && !deleted && patientId) {
      // A Consent stored after the referral went out reaches the CBOs granted its patient.
      await this.manager.query(
        `INSERT INTO ${this.s}.access_grants (organization_id, resource_type, resource_id, patient_id, task_id)
         SELECT organization_id, 'Consent', $1, patient_id, task_id FROM ${this.s}.access_grants
          WHERE resource_type = 'Patient' AND resource_id = $2
         ON CONFLICT DO NOTHING`,
        [id, patientId],
      );
    }
    const stored: StoredResource = {
      resourceType,
      id,
      versionId,
      lastUpdated: this.now,
      deleted,
      method,
      resource: content,
      orgs,
      patientId,
    };
    await this.outbox.append(
      this.manager,
      EventTypes.fhirResourceChanged,
      {
        resourceType,
        id,
        versionId: String(versionId),
        action: deleted ? 'delete' : previous && !previous.deleted ? 'update' : 'create',
        lastUpdated: this.now,
        organizations: involvedOrganizations(orgs),
        resource: content as unknown as Record<string, unknown>,
      },
      {
        // The resource as the CloudEvents subject, the request's correlation id as its traceparent.
        subject: `${resourceType}/${id}`,
        traceparent: currentTraceparent(),
      },
    );
    return stored;
  }
}
