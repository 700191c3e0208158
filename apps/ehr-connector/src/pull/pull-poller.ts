import { DataSource } from 'typeorm';
import type { Bundle, FhirApiClient, Resource } from '@carerelay/fhir-client';
import { EhrClients, relativeTo } from '../fhir/fhir-clients';
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
}

/**
 * Polls each pull-mode EHR for `Task?owner=<platform>&status=requested&_lastUpdated=gt<watermark>`
 * (with `_include` of focus and patient where the server honours it, reads otherwise) and brings
 * each new referral into CareRelay once: a transaction Bundle of conditional creates through the
 * FHIR API as the platform client, then a row in pulled_tasks and the durable watermark in one
 * local transaction.
 */
export class PullPoller {
  private running = false;
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly registry: EhrEndpointRegistry,
    private readonly ehrClients: EhrClients,
    private readonly carerelay: FhirApiClient,
    private readonly options: PullPollerOptions,
  ) {}

  start(): void {
    this.running = true;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.polling;
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.polling = this.tick().finally(() => {
        this.polling = undefined;
        this.schedule(this.options.tickMs);
      });
    }, ms);
  }

  /** Polls every endpoint whose poll is due. */
  async tick(): Promise<void> {
    try {
      for (const endpoint of await this.registry.claimDuePulls()) {
        if (!this.running) return;
        await this.pollEndpoint(endpoint).catch(() => undefined);
      }
    } catch (error) {
      this.options.logger?.warn(`ehr pull: ${(error as Error).message}`);
    }
  }

  async pollEndpoint(endpoint: EhrEndpoint): Promise<PollResult> {
    try {
      const result = await this.poll(endpoint);
      await this.registry.recordPoll(endpoint.id);
      return result;
    } catch (error) {
      const message = (error as Error).message;
      this.options.logger?.warn(`ehr pull ${endpoint.id}: ${message}`);
      await this.registry.recordPoll(endpoint.id, message);
      throw error;
    }
  }

  private async poll(endpoint: EhrEndpoint): Promise<PollResult> {
    const ehr = this.ehrClients.for(endpoint);
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
    const result: PollResult = { seen: 0, pulled: 0 };
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
        if (await this.intake(endpoint, ehr, task, included)) result.pulled++;
      }
      const hasNext: boolean = ((page.link as Array<{ relation?: string }> | undefined) ?? []).some(
        (l) => l.relation === 'next',
      );
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
    return { task, serviceRequest, patient, consents };
  }
}
