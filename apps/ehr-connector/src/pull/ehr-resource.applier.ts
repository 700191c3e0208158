import { DataSource, EntityManager } from 'typeorm';
import { Counter } from 'prom-client';
import { FhirRequestError, type FhirApiClient, type Resource } from '@carerelay/fhir-client';
import { TERMINAL_TASK_STATUSES, type TaskStatus } from '@carerelay/fhir';
import { metricsRegistry } from '@carerelay/observability';
import { failureOf } from '../fhir/failure';
import { EhrClients, relativeTo } from '../fhir/fhir-clients';
import type { EhrEndpoint } from '../registry/ehr-endpoint.registry';
import { cancellationOf, isNewerVersion, versionOf, type EhrVersion } from './ehr-change.rules';
import { gatherReferral } from './referral-gather';
import { intakeBundle, type PulledReferral } from './referral-intake';

/**
 * What applying one EHR resource did:
 * - `taken-in`: a new `requested` Task, brought into CareRelay as a referral;
 * - `cancelled`: the requester's cancellation (Task cancelled, ServiceRequest revoked...) moved
 *   CareRelay's source Task to `cancelled`;
 * - `recorded`: a later version of something pulled before, with nothing for CareRelay to follow
 *   (CareRelay's own status pushed back, or its Task already final);
 * - `unchanged`: this version, or a newer one, was applied before;
 * - `not-ours`: neither a new referral nor a change of one that was pulled.
 */
export type ApplyOutcome = 'taken-in' | 'cancelled' | 'recorded' | 'unchanged' | 'not-ours';

export const pullChangesApplied = new Counter({
  name: 'carerelay_ehr_pull_applied_total',
  help: 'EHR Tasks and ServiceRequests applied by the pull (and by notifications), by outcome',
  labelNames: ['endpoint', 'resource_type', 'outcome'],
  registers: [metricsRegistry],
});

export interface EhrResourceApplierOptions {
  schema: string;
  platformOrganizationId: string;
  logger?: Pick<Console, 'warn' | 'error' | 'log'>;
}

interface PulledRow {
  ehr_task_id: string;
  carerelay_task_id: string;
  ehr_version_id: string | null;
  ehr_last_updated: Date | null;
  ehr_service_request_id: string | null;
  ehr_service_request_version_id: string | null;
  ehr_service_request_last_updated: Date | null;
}

const applied = (versionId: string | null, lastUpdated: Date | null): EhrVersion => ({
  versionId: versionId ?? undefined,
  lastUpdated: lastUpdated?.toISOString(),
});

/** Ids only in logs: the EHR's id is the remote side's text until checked. */
export const safeId = (id: unknown): string =>
  /^[A-Za-z0-9\-.]{1,64}$/.test(String(id)) ? String(id) : '(malformed id)';

/**
 * Takes in, or applies, one EHR Task or ServiceRequest as the EHR holds it now: the step the pull
 * poller runs for each resource its searches return, and that an EHR's notification (a
 * subscription) can run for the resource it names. Safe to run twice, at once or later, for the
 * same version: each pulled Task's last applied EHR version (and its ServiceRequest's) is kept in
 * pulled_tasks, under a lock per EHR resource, and an older version is never applied again.
 *
 * - A Task never pulled: taken in once when `requested` (a transaction Bundle of conditional
 *   creates on placer identifiers through CareRelay's FHIR API as the platform), else ignored.
 * - A Task pulled before, or a ServiceRequest of one: the requester's cancellation moves the
 *   CareRelay source Task to `cancelled` through the FHIR API, and the referral workflow
 *   (referral-service) withdraws the CBO's Task as for any requester's cancellation.
 *
 * Throws a FhirRequestError when CareRelay or the EHR refuses (the caller records a refusal) or
 * cannot be reached (the caller retries later).
 */
export class EhrResourceApplier {
  constructor(
    private readonly dataSource: DataSource,
    private readonly ehrClients: EhrClients,
    private readonly carerelay: FhirApiClient,
    private readonly options: EhrResourceApplierOptions,
  ) {}

  private get s(): string {
    return `"${this.options.schema}"`;
  }

  /**
   * Applies one EHR resource; `included` holds resources the EHR sent along (a search's
   * `_include`s), read from the EHR otherwise.
   */
  async apply(
    endpoint: EhrEndpoint,
    resource: Resource,
    included: Map<string, Resource> = new Map(),
  ): Promise<ApplyOutcome> {
    const outcome =
      resource.resourceType === 'Task'
        ? await this.applyTask(endpoint, resource, included)
        : resource.resourceType === 'ServiceRequest'
          ? await this.applyServiceRequest(endpoint, resource)
          : 'not-ours';
    pullChangesApplied.inc({
      endpoint: endpoint.id,
      resource_type: String(resource.resourceType),
      outcome,
    });
    return outcome;
  }

  /**
   * The EHR versions applied last of a page of pulled Tasks, read without a lock: the pull's
   * searches overlap (each Task is seen on several polls), and a version that is not newer than
   * these never becomes newer (they only move forward), so it can be passed over at once.
   */
  async appliedTaskVersions(
    endpoint: EhrEndpoint,
    ehrTaskIds: string[],
  ): Promise<Map<string, EhrVersion>> {
    if (ehrTaskIds.length === 0) return new Map();
    const rows = (await this.dataSource.query(
      `SELECT ehr_task_id, ehr_version_id, ehr_last_updated FROM ${this.s}.pulled_tasks
       WHERE endpoint_id = $1 AND ehr_task_id = ANY($2::text[])`,
      [endpoint.id, ehrTaskIds],
    )) as PulledRow[];
    return new Map(
      rows.map((row) => [row.ehr_task_id, applied(row.ehr_version_id, row.ehr_last_updated)]),
    );
  }

  /** Passes over an EHR Task whose version was applied before (appliedTaskVersions). */
  passOver(endpoint: EhrEndpoint, task: Resource, known: EhrVersion): ApplyOutcome | undefined {
    if (isNewerVersion(known, versionOf(task))) return undefined;
    pullChangesApplied.inc({ endpoint: endpoint.id, resource_type: 'Task', outcome: 'unchanged' });
    return 'unchanged';
  }

  /** Keeps an EHR Task that could not be taken in as it is, until the EHR changes it. */
  async recordRefusal(
    manager: EntityManager,
    endpoint: EhrEndpoint,
    resource: Resource,
    error: unknown,
  ): Promise<string> {
    const message = failureOf(error);
    const status = error instanceof FhirRequestError ? error.status : 0;
    // A ServiceRequest's refusal is listed under its type and id (the Task's are bare ids).
    const key =
      resource.resourceType === 'Task'
        ? String(resource.id)
        : `${String(resource.resourceType)}/${String(resource.id)}`;
    this.options.logger?.warn(
      `ehr pull ${endpoint.id}: ${String(resource.resourceType)}/${safeId(resource.id)} refused (HTTP ${status})`,
    );
    await manager.query(
      `INSERT INTO ${this.s}.pull_refusals
         (endpoint_id, ehr_task_id, ehr_last_updated, error) VALUES ($1, $2, $3, $4)
       ON CONFLICT (endpoint_id, ehr_task_id) DO UPDATE SET error = EXCLUDED.error,
         ehr_last_updated = EXCLUDED.ehr_last_updated, last_refused_at = now(),
         attempts = ${this.s}.pull_refusals.attempts + 1`,
      [endpoint.id, key, versionOf(resource).lastUpdated ?? null, message.slice(0, 2000)],
    );
    return message;
  }

  /** Runs `fn` in a transaction holding the lock of one EHR resource of this endpoint. */
  private locked<T>(
    endpoint: EhrEndpoint,
    resource: Resource,
    fn: (manager: EntityManager) => Promise<T>,
  ): Promise<T> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
        `ehr-pull:${this.options.schema}:${endpoint.id}:${String(resource.resourceType)}/${String(resource.id)}`,
      ]);
      return fn(manager);
    });
  }

  private async applyTask(
    endpoint: EhrEndpoint,
    task: Resource,
    included: Map<string, Resource>,
  ): Promise<ApplyOutcome> {
    return this.locked(endpoint, task, async (manager) => {
      const [known] = (await manager.query(
        `SELECT * FROM ${this.s}.pulled_tasks WHERE endpoint_id = $1 AND ehr_task_id = $2`,
        [endpoint.id, task.id],
      )) as PulledRow[];
      if (!known) return this.takeIn(manager, endpoint, task, included);
      const version = versionOf(task);
      if (!isNewerVersion(applied(known.ehr_version_id, known.ehr_last_updated), version))
        return 'unchanged';
      const cancellation = cancellationOf(task);
      const cancelled = cancellation
        ? await this.cancelSourceTask(known.carerelay_task_id, cancellation.reason)
        : false;
      const serviceRequestId = relativeTo(task.focus?.reference, endpoint.baseUrl);
      await manager.query(
        `UPDATE ${this.s}.pulled_tasks SET ehr_version_id = $3, ehr_last_updated = $4,
           ehr_service_request_id = COALESCE($5, ehr_service_request_id)
         WHERE endpoint_id = $1 AND ehr_task_id = $2`,
        [
          endpoint.id,
          task.id,
          version.versionId ?? null,
          version.lastUpdated ?? null,
          serviceRequestId?.startsWith('ServiceRequest/')
            ? serviceRequestId.slice('ServiceRequest/'.length)
            : null,
        ],
      );
      // A change refused before and applied now is no longer a refusal.
      await this.clearRefusal(manager, endpoint, task);
      if (cancelled) this.logCancelled(endpoint, 'Task', task, known.carerelay_task_id);
      return cancelled ? 'cancelled' : 'recorded';
    });
  }

  private async applyServiceRequest(
    endpoint: EhrEndpoint,
    serviceRequest: Resource,
  ): Promise<ApplyOutcome> {
    return this.locked(endpoint, serviceRequest, async (manager) => {
      const rows = (await manager.query(
        `SELECT * FROM ${this.s}.pulled_tasks WHERE endpoint_id = $1 AND ehr_service_request_id = $2`,
        [endpoint.id, serviceRequest.id],
      )) as PulledRow[];
      if (rows.length === 0) return 'not-ours';
      const version = versionOf(serviceRequest);
      const cancellation = cancellationOf(serviceRequest);
      let outcome: ApplyOutcome = 'unchanged';
      for (const row of rows) {
        const before = applied(
          row.ehr_service_request_version_id,
          row.ehr_service_request_last_updated,
        );
        if (!isNewerVersion(before, version)) continue;
        const cancelled = cancellation
          ? await this.cancelSourceTask(row.carerelay_task_id, cancellation.reason)
          : false;
        await manager.query(
          `UPDATE ${this.s}.pulled_tasks SET ehr_service_request_version_id = $3,
             ehr_service_request_last_updated = $4
           WHERE endpoint_id = $1 AND ehr_task_id = $2`,
          [endpoint.id, row.ehr_task_id, version.versionId ?? null, version.lastUpdated ?? null],
        );
        if (cancelled) {
          this.logCancelled(endpoint, 'ServiceRequest', serviceRequest, row.carerelay_task_id);
          outcome = 'cancelled';
        } else if (outcome === 'unchanged') outcome = 'recorded';
      }
      return outcome;
    });
  }

  /**
   * CareRelay's source Task → `cancelled` (If-Match; a Task already final stays as it is): the
   * platform makes the requester's move. Whether it moved.
   */
  private async cancelSourceTask(taskId: string, reason: string): Promise<boolean> {
    let moved = false;
    await this.carerelay.updateWithIfMatch('Task', taskId, (current) => {
      moved = false;
      if (TERMINAL_TASK_STATUSES.includes(current.status as TaskStatus)) return undefined;
      moved = true;
      return { ...current, status: 'cancelled', statusReason: { text: reason } };
    });
    return moved;
  }

  private logCancelled(
    endpoint: EhrEndpoint,
    type: string,
    resource: Resource,
    carerelayTaskId: string,
  ): void {
    this.options.logger?.log(
      `ehr pull ${endpoint.id}: ${type}/${safeId(resource.id)} ${String(resource.status)} → CareRelay Task/${carerelayTaskId} cancelled`,
    );
  }

  /** A Task not pulled before: a new referral when it is `requested` (and still wanted). */
  private async takeIn(
    manager: EntityManager,
    endpoint: EhrEndpoint,
    task: Resource,
    included: Map<string, Resource>,
  ): Promise<ApplyOutcome> {
    if (task.status !== 'requested') {
      // Cancelled (or otherwise moved on) before it was ever pulled: nothing to bring in, and no
      // refusal to keep listing.
      await this.clearRefusal(manager, endpoint, task);
      return 'not-ours';
    }
    const ehr = await this.ehrClients.for(endpoint);
    const referral: PulledReferral = {
      task,
      ...(await gatherReferral(
        endpoint,
        ehr,
        { focus: task.focus?.reference, for: task.for?.reference },
        included,
      )),
    };
    if (referral.serviceRequest && cancellationOf(referral.serviceRequest)) {
      await this.clearRefusal(manager, endpoint, task);
      return 'not-ours';
    }
    const response = await this.carerelay.transaction(
      intakeBundle(referral, endpoint, this.options.platformOrganizationId),
    );
    const location = (response.entry?.[0] as { response?: { location?: string } } | undefined)
      ?.response?.location;
    const carerelayTaskId = location?.match(/Task\/([^/]+)/)?.[1];
    if (!carerelayTaskId) throw new Error(`intake of Task/${task.id}: no Task in the response`);
    const version = versionOf(task);
    const sr = referral.serviceRequest ? versionOf(referral.serviceRequest) : undefined;
    await manager.query(
      `INSERT INTO ${this.s}.pulled_tasks (endpoint_id, ehr_task_id, carerelay_task_id,
         ehr_last_updated, ehr_version_id, ehr_service_request_id, ehr_service_request_version_id,
         ehr_service_request_last_updated)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
      [
        endpoint.id,
        task.id,
        carerelayTaskId,
        version.lastUpdated ?? null,
        version.versionId ?? null,
        referral.serviceRequest?.id ?? null,
        sr?.versionId ?? null,
        sr?.lastUpdated ?? null,
      ],
    );
    // Refused before, fixed on the EHR since: no longer a refusal.
    await this.clearRefusal(manager, endpoint, task);
    this.options.logger?.log(
      `ehr pull ${endpoint.id}: Task/${safeId(task.id)} → CareRelay Task/${carerelayTaskId}`,
    );
    return 'taken-in';
  }

  private async clearRefusal(
    manager: EntityManager,
    endpoint: EhrEndpoint,
    task: Resource,
  ): Promise<void> {
    await manager.query(
      `DELETE FROM ${this.s}.pull_refusals WHERE endpoint_id = $1 AND ehr_task_id = $2`,
      [endpoint.id, task.id],
    );
  }
}
