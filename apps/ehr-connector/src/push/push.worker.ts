import { FhirRequestError, TokenRequestError } from '@carerelay/fhir-client';
import { Counter } from 'prom-client';
import { DataSource } from 'typeorm';
import { metricsRegistry } from '@carerelay/observability';
import { deliverInOrder, PollingLoop, QUIET_POLL_MS, type RetryPolicy } from '@carerelay/messaging';
import type { EhrEndpoint, EhrEndpointRegistry } from '../registry/ehr-endpoint.registry';
import type { EhrTaskPusher } from './ehr-task-pusher';
import { EndpointDisabled, failureOf } from '../fhir/failure';
import type { PushDelivery, PushQueue } from './push-queue';

/** CareRelay Task versions not written because the EHR's Task was final or ahead. */
export const pushRegressionsSkipped = new Counter({
  name: 'carerelay_ehr_push_regressions_skipped_total',
  help: "CareRelay Task versions not pushed because they would move the EHR's Task status back",
  labelNames: ['endpoint', 'ehr_status'],
  registers: [metricsRegistry],
});

export const pushChannel = (schema: string): string => `carerelay_ehr_push_${schema}`;

const TRANSIENT_STATUS = (status: number): boolean =>
  status === 0 || status === 408 || status === 429 || status >= 500;

/** The EHR (or its token endpoint) did not answer, or answered "not now": an outage. */
export function isOutage(error: unknown): boolean {
  if (error instanceof FhirRequestError || error instanceof TokenRequestError)
    return TRANSIENT_STATUS(error.status);
  // fhir-kit-client's own errors (the raw client): { response: { status } }.
  const status = (error as { response?: { status?: unknown } } | undefined)?.response?.status;
  if (typeof status === 'number') return TRANSIENT_STATUS(status);
  return error instanceof TypeError && error.message === 'fetch failed';
}

/**
 * Whether a failed version is parked now: after `maxAttempts`, at once for a refusal, and for an
 * outage only once it has waited `outageParkAfterMs` since it was queued (an EHR down for a
 * while is waited out, and then gets every version in order without a coordinator's replay).
 */
export function parks(o: {
  attempts: number;
  maxAttempts: number;
  outage: boolean;
  waitedMs: number;
  outageParkAfterMs: number;
}): boolean {
  if (o.attempts < o.maxAttempts) return false;
  return !o.outage || o.waitedMs >= o.outageParkAfterMs;
}

export interface PushWorkerOptions {
  schema: string;
  pollMs: number;
  concurrency: number;
  retry: RetryPolicy;
  /**
   * How long an unreachable EHR is waited out (from when a version was queued) before the
   * version is parked after `retry.maxAttempts`; refusals park after `retry.maxAttempts` at once.
   */
  outageParkAfterMs?: number;
  logger?: Pick<Console, 'warn' | 'error' | 'log'>;
  /** Called after each delivery (metrics, benchmarks). */
  onDelivered?: (delivery: PushDelivery) => void;
}

/**
 * Drains the push queue: for each Task with a due delivery, under the Task's lock, writes its
 * pending versions to the EHR in version order. A failure backs off (exponential, full jitter)
 * and holds the Task's later versions behind it; after `retry.maxAttempts` (and, while the EHR
 * is unreachable, `outageParkAfterMs`) the version is parked (visible at GET /push/deliveries?state=parked, replayable) and the later versions go on.
 * Woken by LISTEN/NOTIFY when the consumer queues something; polling stays.
 */
export class PushWorker {
  private readonly loop: PollingLoop;

  constructor(
    private readonly dataSource: DataSource,
    private readonly queue: PushQueue,
    private readonly registry: EhrEndpointRegistry,
    private readonly pusher: EhrTaskPusher,
    private readonly options: PushWorkerOptions,
  ) {
    this.loop = new PollingLoop({
      intervalMs: options.pollMs,
      // Every queued version NOTIFYs (TaskChangesHandler): polling is then only the safety net.
      quietIntervalMs: QUIET_POLL_MS,
      dueInMs: (result) => result as number | undefined,
      tick: () => this.drain(),
      onError: (error) => options.logger?.warn(`ehr push: ${failureOf(error)}`),
      notify: {
        url: (dataSource.options as { url?: string }).url,
        channel: pushChannel(options.schema),
      },
    });
  }

  start(): Promise<void> {
    return this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  wake(): void {
    this.loop.wake();
  }

  /**
   * One pass: every Task due now, `concurrency` at a time. Returns in how many ms a delivery it
   * knows of falls due (a retry's backoff, a version not yet due), so that the loop, woken by
   * NOTIFY for new versions, need not poll for those.
   */
  async drain(): Promise<number | undefined> {
    let dueInMs: number | undefined;
    const dueIn = (ms: number) => (dueInMs = Math.min(dueInMs ?? ms, ms));
    for (;;) {
      const { keys: tasks, nextDueInMs } = await this.queue.dueTasks(this.options.concurrency * 4);
      if (nextDueInMs !== undefined) dueIn(nextDueInMs);
      if (tasks.length === 0 || !this.loop.isRunning) return dueInMs;
      let next = 0;
      // Endpoints read once per round of Tasks (a disabled one is seen by the next round).
      const endpoints = new Map<string, Promise<EhrEndpoint | undefined>>();
      const endpointOf = (id: string) => {
        let endpoint = endpoints.get(id);
        if (!endpoint) endpoints.set(id, (endpoint = this.registry.get(id)));
        return endpoint;
      };
      const lane = async () => {
        while (next < tasks.length && this.loop.isRunning) {
          const taskId = tasks[next++];
          await this.pushTask(taskId, endpointOf, dueIn).catch((error: unknown) => {
            // Nothing recorded: the Task is due again at once, looked at by the next poll.
            dueIn(this.options.pollMs);
            this.options.logger?.warn(`ehr push ${taskId}: ${failureOf(error)}`);
          });
        }
      };
      await Promise.all(Array.from({ length: this.options.concurrency }, lane));
      if (tasks.length < this.options.concurrency * 4) return dueInMs;
    }
  }

  private async pushTask(
    taskId: string,
    endpointOf: (id: string) => Promise<EhrEndpoint | undefined>,
    dueIn: (ms: number) => void,
  ): Promise<void> {
    let delivered: PushDelivery[] = [];
    await this.queue.withTaskLock(taskId, async (manager) => {
      const queued = await this.queue.pendingOf(manager, taskId);
      let deliveredVersion = queued.deliveredVersion;
      let endpoint: EhrEndpoint | undefined; // read once per Task and pass
      delivered = await deliverInOrder(queued.pending, {
        retry: this.options.retry,
        waits: dueIn,
        parks: (delivery, error, attempts) =>
          parks({
            attempts,
            maxAttempts: this.options.retry.maxAttempts,
            outage: isOutage(error),
            waitedMs: Date.now() - Date.parse(delivery.createdAt),
            outageParkAfterMs: this.options.outageParkAfterMs ?? 0,
          }),
        before: async (delivery) => {
          if (delivery.version <= deliveredVersion) {
            await this.queue.markSuperseded(manager, delivery);
            return 'skip';
          }
          endpoint ??= await endpointOf(delivery.endpointId);
          return 'deliver';
        },
        deliver: async (delivery) => {
          if (!endpoint?.enabled) throw new EndpointDisabled();
          const result = await this.pusher.push(
            endpoint,
            delivery.ehrTaskId,
            delivery.task,
            delivery.version,
          );
          if (result.kind === 'regression') {
            // The EHR moved on (a clinician cancelled, say): this version is not written, and
            // nothing older may follow it. Ids and statuses only in the log.
            await this.queue.markNotWritten(
              manager,
              delivery,
              `not written: the EHR Task is ${result.ehrStatus} (this version: ${result.carerelayStatus})`,
            );
            pushRegressionsSkipped.inc({ endpoint: endpoint.id, ehr_status: result.ehrStatus });
            this.options.logger?.warn(
              `ehr push ${endpoint.id}: Task/${taskId} v${delivery.version} not written: the EHR Task is ${result.ehrStatus}, this version ${result.carerelayStatus}`,
            );
          } else
            await this.queue.markDelivered(
              manager,
              delivery,
              result.kind === 'updated' ? result.echo : undefined,
            );
          deliveredVersion = delivery.version;
        },
        failed: async (delivery, error, { attempts, parked, delayMs }) => {
          const message = failureOf(error);
          await this.queue.markFailed(manager, delivery, message, { parked, delayMs });
          if (parked)
            this.options.logger?.error(
              `ehr push: Task/${taskId} v${delivery.version} parked after ${attempts} attempts: ${message}`,
            );
        },
      });
    });
    for (const d of delivered) this.options.onDelivered?.(d);
  }
}
