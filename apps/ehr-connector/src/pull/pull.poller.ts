import { DataSource } from 'typeorm';
import { FhirRequestError, type Bundle, type Resource } from '@carerelay/fhir-client';
import { PollingLoop } from '@carerelay/messaging';
import { failureOf } from '../fhir/failure';
import { EhrClients, OutboundRefused, sameOrigin } from '../fhir/fhir-clients';
import type { EhrEndpoint, EhrEndpointRegistry } from '../registry/ehr-endpoint.registry';
import { WITHDRAWN_SERVICE_REQUEST_STATUSES, type EhrVersion } from './ehr-change.rules';
import type { ApplyOutcome, EhrResourceApplier } from './ehr-resource.applier';

export interface PullPollerOptions {
  schema: string;
  tickMs: number;
  /** How far behind the watermark each search starts (writes committed late on the EHR). */
  overlapMs?: number;
  pageSize?: number;
  logger?: Pick<Console, 'warn' | 'error' | 'log'>;
}

export interface PollResult {
  seen: number;
  /** New referrals taken in. */
  pulled: number;
  /** Later changes of pulled referrals that CareRelay followed (cancellations). */
  applied: number;
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
export const isRefusal = (error: unknown): boolean =>
  error instanceof FhirRequestError &&
  error.status >= 400 &&
  error.status < 500 &&
  ![401, 403, 408, 429].includes(error.status);

/**
 * Polls each pull-mode EHR with two searches from its watermarks (less an overlap window, for
 * writes the EHR committed late), each `_sort=_lastUpdated` and paged:
 * `Task?owner=<platform>&_lastUpdated=gt<…>` (with `_include` of focus and patient where the
 * server honours them) for new referrals and later changes of pulled ones, and
 * `ServiceRequest?status=revoked,entered-in-error&_lastUpdated=gt<…>` for referrals withdrawn on
 * the EHR without a change of the Task. Each resource goes through EhrResourceApplier (taken in
 * once, a change applied once: versions are kept per pulled resource, so the overlap and a second
 * poll apply nothing twice); then the search's watermark moves past it, durably.
 */
export class PullPoller {
  private readonly loop: PollingLoop;

  constructor(
    private readonly dataSource: DataSource,
    private readonly registry: EhrEndpointRegistry,
    private readonly ehrClients: EhrClients,
    private readonly applier: EhrResourceApplier,
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
    const current = (await this.registry.get(endpoint.id)) ?? endpoint;
    const result: PollResult = { seen: 0, pulled: 0, applied: 0, refused: [] };
    const count = (outcome: ApplyOutcome) => {
      if (outcome === 'taken-in') result.pulled++;
      if (outcome === 'cancelled') result.applied++;
    };
    await this.search(
      endpoint,
      'Task',
      {
        owner: endpoint.platformOwnerReference,
        _include: ['Task:focus', 'Task:patient'],
      },
      current.pullWatermark,
      result,
      count,
    );
    // Until a withdrawal has been seen, from where the Task search started: nothing pulled
    // before that can have been withdrawn earlier without having been seen by it.
    const since = current.pullServiceRequestWatermark ?? current.pullWatermark;
    if (since)
      await this.search(
        endpoint,
        'ServiceRequest',
        { status: WITHDRAWN_SERVICE_REQUEST_STATUSES.join(',') },
        since,
        result,
        count,
      );
    return result;
  }

  /** One search from a watermark, every page, each match applied and the watermark moved. */
  private async search(
    endpoint: EhrEndpoint,
    resourceType: 'Task' | 'ServiceRequest',
    criteria: Record<string, string | string[]>,
    watermark: string | undefined,
    result: PollResult,
    count: (outcome: ApplyOutcome) => void,
  ): Promise<void> {
    const ehr = await this.ehrClients.for(endpoint);
    const params: Record<string, string | string[]> = {
      ...criteria,
      _sort: '_lastUpdated',
      _count: String(this.options.pageSize ?? 50),
    };
    if (watermark) {
      const since = Date.parse(watermark) - (this.options.overlapMs ?? 2_000);
      params._lastUpdated = `gt${new Date(since).toISOString()}`;
    }
    const client = await ehr.raw();
    let page: Bundle | undefined = (await client.search({
      resourceType,
      searchParams: params as Record<string, string>,
    })) as Bundle;
    while (page) {
      const resources = (page.entry ?? []).map((e) => e.resource).filter(Boolean) as Resource[];
      const included = new Map(resources.map((r) => [`${r.resourceType}/${r.id}`, r]));
      const matches = (page.entry ?? [])
        .filter((e) => e.resource?.resourceType === resourceType && e.search?.mode !== 'include')
        .map((e) => e.resource as Resource);
      // Seen on an earlier poll (the searches overlap), or the EHR's copy of what the push wrote
      // and this poll applied: passed over without a transaction of its own.
      const known =
        resourceType === 'Task'
          ? await this.applier.appliedTaskVersions(
              endpoint,
              matches.map((r) => String(r.id)),
            )
          : new Map<string, EhrVersion>();
      // The watermark moves once per page, past what was applied (also when a resource stops
      // the page: what came before it stays done).
      let mark: string | undefined;
      try {
        for (const resource of matches) {
          result.seen++;
          const lastUpdated = (resource.meta as { lastUpdated?: string } | undefined)?.lastUpdated;
          const seen = known.get(String(resource.id));
          const passed = seen && this.applier.passOver(endpoint, resource, seen);
          try {
            count(passed || (await this.applier.apply(endpoint, resource, included)));
            if (lastUpdated) mark = lastUpdated;
          } catch (error) {
            if (!isRefusal(error)) throw error;
            // One malformed referral must not hold back every later one of this EHR: it is
            // skipped (the watermark passes it) and named; an update on the EHR brings it back.
            await this.dataSource.transaction(async (manager) => {
              const message = await this.applier.recordRefusal(manager, endpoint, resource, error);
              result.refused.push({
                ehrTaskId:
                  resourceType === 'Task' ? String(resource.id) : `${resourceType}/${resource.id}`,
                error: message,
              });
              if (lastUpdated)
                await this.registry.advanceWatermark(
                  manager,
                  endpoint.id,
                  lastUpdated,
                  resourceType,
                );
            });
          }
        }
      } finally {
        if (mark)
          await this.registry.advanceWatermark(
            this.dataSource.manager,
            endpoint.id,
            mark,
            resourceType,
          );
      }
      const next: { relation?: string; url?: string } | undefined = (
        (page.link as Array<{ relation?: string; url?: string }> | undefined) ?? []
      ).find((l) => l.relation === 'next');
      // A next link elsewhere would send the EHR's token to another server.
      if (next && !sameOrigin(next.url, endpoint.baseUrl)) throw new OutboundRefused('next page');
      page = next
        ? ((await (
            await ehr.raw()
          ).nextPage({
            bundle: page as unknown as Parameters<typeof client.nextPage>[0]['bundle'],
          })) as Bundle)
        : undefined;
    }
  }
}
