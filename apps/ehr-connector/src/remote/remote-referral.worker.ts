import { Counter } from 'prom-client';
import {
  FhirRequestError,
  isTransientFhirError,
  TokenRequestError,
  type FhirApiClient,
  type Resource,
} from '@carerelay/fhir-client';
import { endpointOfReference } from '@carerelay/fhir';
import { PollingLoop } from '@carerelay/messaging';
import { metricsRegistry } from '@carerelay/observability';
import { failureOf } from '../fhir/failure';
import type { EhrClients } from '../fhir/fhir-clients';
import { safeId } from '../pull/ehr-resource.applier';
import { gatherReferral } from '../pull/referral-gather';
import { localizationBundle } from '../pull/referral-intake';
import type { EhrEndpointRegistry } from '../registry/ehr-endpoint.registry';
import { afterFailure, type FetchRetryPolicy } from './remote-referral.rules';
import type { RemoteReferralRow, RemoteReferralStore } from './remote-referral.store';

export const remoteReferralsFetched = new Counter({
  name: 'carerelay_ehr_remote_referrals_total',
  help: 'Referral Tasks posted with their ServiceRequest on the EHR: fetched and made routable, retried, given up',
  labelNames: ['endpoint', 'outcome'],
  registers: [metricsRegistry],
});

/** A refusal the worker makes itself: the Task names nothing it can fetch. */
class NothingToFetch extends Error {
  override name = 'NothingToFetch';
  constructor(what: string) {
    super(what);
  }
}

export interface RemoteReferralWorkerOptions {
  pollMs: number;
  retry: FetchRetryPolicy;
  platformOrganizationId: string;
  /** How long a claimed referral is held before another instance may try it (a crash). */
  leaseMs?: number;
  logger?: Pick<Console, 'warn' | 'log'>;
}

/**
 * Makes a referral Task that an EHR posted alone, naming its ServiceRequest (and Patient) on its
 * own FHIR server, routable: reads them from the EHR with the endpoint's client and credentials —
 * the ServiceRequest, the Patient, the Consents, as a pull reads them — and stores copies in
 * CareRelay together with the Task pointing at them, in one transaction (localizationBundle). The
 * referral-service then takes the Task in as any other referral.
 *
 * An EHR that cannot be reached is waited out (backoff with jitter, `giveUpAfterMs`); one that
 * refuses (404: not there, or not yet) is tried `maxAttempts` times. Given up, the Task is
 * rejected by the platform (it owns it) with a reason that names the failure, never the EHR's
 * text: the EHR sees it. Counted in carerelay_ehr_remote_referrals_total; logs name ids only.
 */
export class RemoteReferralWorker {
  private readonly loop: PollingLoop;

  constructor(
    private readonly store: RemoteReferralStore,
    private readonly registry: EhrEndpointRegistry,
    private readonly ehrClients: EhrClients,
    private readonly carerelay: FhirApiClient,
    private readonly options: RemoteReferralWorkerOptions,
  ) {
    this.loop = new PollingLoop({
      intervalMs: options.pollMs,
      tick: () => this.tick(),
      onError: (error) => options.logger?.warn(`ehr remote referrals: ${failureOf(error)}`),
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

  async tick(): Promise<void> {
    const due = await this.store.claimDue(10, this.options.leaseMs ?? 120_000);
    for (const row of due) {
      if (!this.loop.isRunning) return;
      await this.attempt(row);
    }
  }

  /** One attempt at one queued referral; records its outcome. */
  async attempt(row: RemoteReferralRow): Promise<void> {
    try {
      const outcome = await this.localize(row);
      await this.store.finish(row.taskId, 'done');
      remoteReferralsFetched.inc({ endpoint: row.endpointId, outcome });
      if (outcome === 'localized')
        this.options.logger?.log(
          `ehr remote referral ${row.endpointId}: Task/${safeId(row.taskId)} fetched from the EHR`,
        );
    } catch (error) {
      await this.failed(row, error);
    }
  }

  private async localize(row: RemoteReferralRow): Promise<'localized' | 'not-needed'> {
    let task: Resource;
    try {
      task = await this.carerelay.read('Task', row.taskId);
    } catch (error) {
      if (error instanceof FhirRequestError && (error.status === 404 || error.status === 410))
        return 'not-needed';
      throw error;
    }
    // Moved on meanwhile (cancelled by its requester), or made routable by an earlier attempt.
    if (task.status !== 'requested') return 'not-needed';
    const endpoint = await this.registry.get(row.endpointId);
    if (!endpoint?.enabled) throw new NothingToFetch('EHR endpoint not registered or disabled');
    const focus = endpointOfReference(task.focus?.reference, [endpoint]) && task.focus?.reference;
    const patient = endpointOfReference(task.for?.reference, [endpoint]) && task.for?.reference;
    if (!focus && !patient) return 'not-needed';
    const ehr = await this.ehrClients.for(endpoint);
    const referral = await gatherReferral(endpoint, ehr, {
      focus: focus || undefined,
      for: patient || undefined,
    });
    if (focus && !referral.serviceRequest)
      throw new NothingToFetch('Task.focus is not a ServiceRequest on the EHR');
    await this.carerelay.transaction(
      localizationBundle(task, referral, endpoint, this.options.platformOrganizationId),
    );
    return 'localized';
  }

  private async failed(row: RemoteReferralRow, error: unknown): Promise<void> {
    const message = error instanceof NothingToFetch ? error.message : failureOf(error);
    const transient =
      !(error instanceof NothingToFetch) &&
      (isTransientFhirError(error) ||
        (error instanceof FhirRequestError && [401, 403, 409, 412].includes(error.status)) ||
        error instanceof TokenRequestError ||
        !(error instanceof FhirRequestError));
    const attempts = row.attempts + 1;
    const next = afterFailure(
      { transient, attempts, firstSeenAt: row.firstSeenAt, now: new Date() },
      this.options.retry,
    );
    if (!next.giveUp) {
      await this.store.retryLater(row.taskId, next.delayMs, message);
      remoteReferralsFetched.inc({ endpoint: row.endpointId, outcome: 'retried' });
      this.options.logger?.warn(
        `ehr remote referral ${row.endpointId}: Task/${safeId(row.taskId)} attempt ${attempts} failed (${message}); again in ${next.delayMs} ms`,
      );
      return;
    }
    try {
      await this.reject(row.taskId, message);
    } catch (rejectError) {
      // Not even CareRelay answers: keep it queued, the next attempt decides again.
      await this.store.retryLater(
        row.taskId,
        this.options.retry.maxBackoffMs,
        failureOf(rejectError),
      );
      return;
    }
    await this.store.finish(row.taskId, 'given-up', message);
    remoteReferralsFetched.inc({ endpoint: row.endpointId, outcome: 'given-up' });
    this.options.logger?.warn(
      `ehr remote referral ${row.endpointId}: Task/${safeId(row.taskId)} given up after ${attempts} attempts (${message}); Task rejected`,
    );
  }

  /** The platform owns the Task: it rejects what it cannot fetch, saying why (a fixed message). */
  private async reject(taskId: string, message: string): Promise<void> {
    await this.carerelay.updateWithIfMatch('Task', taskId, (current) =>
      current.status !== 'requested'
        ? undefined
        : {
            ...current,
            status: 'rejected',
            statusReason: {
              text: `CareRelay could not fetch the referral's resources from the EHR: ${message}`,
            },
          },
    );
  }
}
