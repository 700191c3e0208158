import { DataSource } from 'typeorm';
import {
  FhirRequestError,
  type Bundle,
  type FhirApiClient,
  type Resource,
} from '@carerelay/fhir-client';
import { PollingLoop } from '@carerelay/messaging';
import { failureOf } from '../fhir/failure';
import { EhrClients, OutboundRefused, relativeTo, sameOrigin } from '../fhir/fhir-clients';
import type { EhrEndpoint, EhrEndpointRegistry } from '../registry/ehr-endpoint.registry';
import { intakeBundle, type PulledReferral } from './referral-intake';

export interface PullPollerOptions {
  schema: string;
  tickMs: number;
  platformOrganizationId: string;
  /** How far behind the watermark each search starts (writes committed late on the EHR). */
  overlapMs?: number;
  pageSize?: number;
  logger?: Pick<Console, 'warn' | 'error' | 'log'>;
}

export interface PollResult {
  seen: number;
  pulled: number;
  /** EHR Tasks CareRelay refused (4xx): skipped, named in the endpoint's lastPollError. */
  refused: Array<{ ehrTaskId: string; error: string }>;
}

export interface PullRefusal {
  endpointId: string;
  ehrTaskId: string;
  ehrLastUpdated?: string;
  error: string;
  attempts: number;
  firstRefusedAt: string;
  lastRefusedAt: string;
}

/**
 * CareRelay (or the EHR, reading what the Task names) refused this referral as it is (400, 409, 412, 422...): retrying the same EHR Task
 * version cannot help. Anything else (a network error, 5xx, 408, 429, 401/403 of our own token)
 * is transient: the poll stops there and the watermark stays before it.
 */
const isRefusal = (error: unknown): boolean =>
  error instanceof FhirRequestError &&
  error.status >= 400 &&
  error.status < 500 &&
  ![401, 403, 408, 429].includes(error.status);

/**
 * Polls each pull-mode EHR for `Task?owner=<platform>&status=requested&_lastUpdated=gt<watermark>`
 * (with `_include` of focus and patient where the server honours it, reads otherwise; Consents
 * named by the ServiceRequest's supportingInfo and the patient's active ones) and brings
 * each new referral into CareRelay once: a transaction Bundle of conditional creates through the
 * FHIR API as the platform client, then a row in pulled_tasks and the durable watermark in one
 * local transaction.
 */
export class PullPoller {
  private readonly loop: PollingLoop;

  constructor(
    private readonly dataSource: DataSource,
    private readonly registry: EhrEndpointRegistry,
    private readonly ehrClients: EhrClients,
    private readonly carerelay: FhirApiClient,
    private readonly options: PullPollerOptions,
  ) {
    this.loop = new PollingLoop({
      intervalMs: options.tickMs,
      tick: () => this.tick(),
      onError: (error) => options.logger?.warn(`ehr pull: ${failureOf(error)}`),
    });
  }

  start(): Promise<void> {
    return this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Polls every endpoint whose poll is due. */
  async tick(): Promise<void> {
    try {
      for (const endpoint of await this.registry.claimDuePulls()) {
        if (!this.loop.isRunning) return;
        await this.pollEndpoint(endpoint).catch(() => undefined);
      }
    } catch (error) {
      this.options.logger?.warn(`ehr pull: ${failureOf(error)}`);
    }
  }

  /** EHR Tasks that could not be pulled as they are (newest first). */
  async refusals(endpointId?: string): Promise<PullRefusal[]> {
    const rows: Array<Record<string, unknown>> = await this.dataSource.query(
      `SELECT * FROM "${this.options.schema}".pull_refusals
       WHERE $1::text IS NULL OR endpoint_id = $1 ORDER BY last_refused_at DESC LIMIT 500`,
      [endpointId ?? null],
    );
    return rows.map((r) => ({
      endpointId: r.endpoint_id as string,
      ehrTaskId: r.ehr_task_id as string,
      ehrLastUpdated: (r.ehr_last_updated as Date | null)?.toISOString(),
      error: r.error as string,
      attempts: r.attempts as number,
      firstRefusedAt: (r.first_refused_at as Date).toISOString(),
      lastRefusedAt: (r.last_refused_at as Date).toISOString(),
    }));
  }

  async pollEndpoint(endpoint: EhrEndpoint): Promise<PollResult> {
    try {
      const result = await this.poll(endpoint);
      await this.registry.recordPoll(
        endpoint.id,
        result.refused.length > 0
          ? `not pulled (see GET /pull/refusals): ${result.refused
              .map((r) => `Task/${r.ehrTaskId}: ${r.error}`)
              .join('; ')}`
          : undefined,
      );
      return result;
    } catch (error) {
      const message = failureOf(error);
      this.options.logger?.warn(`ehr pull ${endpoint.id}: ${message}`);
      await this.registry.recordPoll(endpoint.id, message);
      throw error;
    }
  }

  private async poll(endpoint: EhrEndpoint): Promise<PollResult> {
    const ehr = await this.ehrClients.for(endpoint);
    const params: Record<string, string | string[]> = {
      owner: endpoint.platformOwnerReference,
      status: 'requested',
      _sort: '_lastUpdated',
      _count: String(this.options.pageSize ?? 50),
      _include: ['Task:focus', 'Task:patient'],
    };
    const current = await this.registry.get(endpoint.id);
    if (current?.pullWatermark) {
      const since = Date.parse(current.pullWatermark) - (this.options.overlapMs ?? 2_000);
      params._lastUpdated = `gt${new Date(since).toISOString()}`;
    }
    const result: PollResult = { seen: 0, pulled: 0, refused: [] };
    const client = await ehr.raw();
    let page: Bundle | undefined = (await client.search({
      resourceType: 'Task',
      searchParams: params as Record<string, string>,
    })) as Bundle;
    while (page) {
      const resources = (page.entry ?? []).map((e) => e.resource).filter(Boolean) as Resource[];
      const included = new Map(resources.map((r) => [`${r.resourceType}/${r.id}`, r]));
      const tasks = (page.entry ?? [])
        .filter((e) => e.resource?.resourceType === 'Task' && e.search?.mode !== 'include')
        .map((e) => e.resource as Resource);
      for (const task of tasks) {
        result.seen++;
        try {
          if (await this.intake(endpoint, ehr, task, included)) result.pulled++;
        } catch (error) {
          if (!isRefusal(error)) throw error;
          // One malformed referral must not hold back every later one of this EHR: it is
          // skipped (the watermark passes it) and named; an update on the EHR brings it back.
          const message = failureOf(error);
          result.refused.push({ ehrTaskId: task.id as string, error: message });
          // Ids and the status only: the EHR's Task id is the remote side's text until checked.
          const taskId = /^[A-Za-z0-9\-.]{1,64}$/.test(String(task.id))
            ? task.id
            : '(malformed id)';
          const status = error instanceof FhirRequestError ? error.status : 0;
          this.options.logger?.warn(
            `ehr pull ${endpoint.id}: Task/${taskId} refused (HTTP ${status})`,
          );
          const lastUpdated = (task.meta as { lastUpdated?: string } | undefined)?.lastUpdated;
          await this.dataSource.transaction(async (manager) => {
            await manager.query(
              `INSERT INTO "${this.options.schema}".pull_refusals
                 (endpoint_id, ehr_task_id, ehr_last_updated, error) VALUES ($1, $2, $3, $4)
               ON CONFLICT (endpoint_id, ehr_task_id) DO UPDATE SET error = EXCLUDED.error,
                 ehr_last_updated = EXCLUDED.ehr_last_updated, last_refused_at = now(),
                 attempts = "${this.options.schema}".pull_refusals.attempts + 1`,
              [endpoint.id, task.id, lastUpdated ?? null, message.slice(0, 2000)],
            );
            if (lastUpdated)
              await this.registry.advanceWatermark(manager, endpoint.id, lastUpdated);
          });
        }
      }
      const hasNext: boolean = ((page.link as Array<{ relation?: string }> | undefined) ?? []).some(
        (l) => l.relation === 'next',
      );
      const next = (
        (page.link as Array<{ relation?: string; url?: string }> | undefined) ?? []
      ).find((l) => l.relation === 'next');
      // A next link elsewhere would send the EHR's token to another server.
      if (hasNext && !sameOrigin(next?.url, endpoint.baseUrl))
        throw new OutboundRefused('next page');
      page = hasNext
        ? ((await (
            await ehr.raw()
          ).nextPage({
            bundle: page as unknown as Parameters<typeof client.nextPage>[0]['bundle'],
          })) as Bundle)
        : undefined;
    }
    return result;
  }

  /** Brings one EHR Task into CareRelay unless it was pulled before; true when it was new. */
  private async intake(
    endpoint: EhrEndpoint,
    ehr: FhirApiClient,
    task: Resource,
    included: Map<string, Resource>,
  ): Promise<boolean> {
    const s = `"${this.options.schema}"`;
    const [known] = await this.dataSource.query(
      `SELECT carerelay_task_id FROM ${s}.pulled_tasks WHERE endpoint_id = $1 AND ehr_task_id = $2`,
      [endpoint.id, task.id],
    );
    const lastUpdated = (task.meta as { lastUpdated?: string } | undefined)?.lastUpdated;
    if (known) {
      if (lastUpdated)
        await this.registry.advanceWatermark(this.dataSource.manager, endpoint.id, lastUpdated);
      return false;
    }
    const referral = await this.gather(endpoint, ehr, task, included);
    const response = await this.carerelay.transaction(
      intakeBundle(referral, endpoint, this.options.platformOrganizationId),
    );
    const location = (response.entry?.[0] as { response?: { location?: string } } | undefined)
      ?.response?.location;
    const carerelayTaskId = location?.match(/Task\/([^/]+)/)?.[1];
    if (!carerelayTaskId) throw new Error(`intake of Task/${task.id}: no Task in the response`);
    let inserted = false;
    await this.dataSource.transaction(async (manager) => {
      const rows: unknown[] = await manager.query(
        `INSERT INTO ${s}.pulled_tasks (endpoint_id, ehr_task_id, carerelay_task_id, ehr_last_updated)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING ehr_task_id`,
        [endpoint.id, task.id, carerelayTaskId, lastUpdated ?? null],
      );
      inserted = rows.length > 0;
      // Refused before, fixed on the EHR since: no longer a refusal.
      await manager.query(
        `DELETE FROM ${s}.pull_refusals WHERE endpoint_id = $1 AND ehr_task_id = $2`,
        [endpoint.id, task.id],
      );
      if (lastUpdated) await this.registry.advanceWatermark(manager, endpoint.id, lastUpdated);
    });
    if (inserted)
      this.options.logger?.log(
        `ehr pull ${endpoint.id}: Task/${task.id} → CareRelay Task/${carerelayTaskId}`,
      );
    return inserted;
  }

  private async gather(
    endpoint: EhrEndpoint,
    ehr: FhirApiClient,
    task: Resource,
    included: Map<string, Resource>,
  ): Promise<PulledReferral> {
    const fetch = async (reference: string | undefined): Promise<Resource | undefined> => {
      const local = relativeTo(reference, endpoint.baseUrl);
      if (!local) return undefined;
      const hit = included.get(local);
      if (hit) return hit;
      const [type, id] = local.split('/');
      const resource = await ehr.read(type, id);
      included.set(local, resource);
      return resource;
    };
    const focus = await fetch(task.focus?.reference);
    const serviceRequest = focus?.resourceType === 'ServiceRequest' ? focus : undefined;
    const patient = await fetch(task.for?.reference ?? serviceRequest?.subject?.reference);
    const consents: Resource[] = [];
    for (const info of (serviceRequest?.supportingInfo as Array<{ reference?: string }>) ?? []) {
      if (!relativeTo(info.reference, endpoint.baseUrl)?.startsWith('Consent/')) continue;
      const consent = await fetch(info.reference);
      if (consent) consents.push(consent);
    }
    // Many EHRs do not link the Consent from the ServiceRequest: the patient's active Consents.
    if (patient?.id) {
      const found = await ehr.search('Consent', {
        patient: `Patient/${patient.id}`,
        status: 'active',
        _count: '20',
      });
      for (const entry of found.entry ?? []) {
        const consent = entry.resource;
        if (consent?.resourceType !== 'Consent' || consents.some((c) => c.id === consent.id))
          continue;
        included.set(`Consent/${consent.id}`, consent);
        consents.push(consent);
      }
    }
    return { task, serviceRequest, patient, consents };
  }
}
