import { Controller, Inject, Logger } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { CloudEvent, EventTypes, FhirResourceChangedV1 } from '@carerelay/contracts';
import { EventContext, type BatchWriter } from '@carerelay/messaging';
import type { EntityManager } from 'typeorm';
import type { Resource } from '@carerelay/fhir-client';
import { SERVICE_SCHEMA, TransactionMemo } from '@carerelay/persistence';
import { relativeTo } from '../fhir/fhir-clients';
import { ehrIdOf } from '../fhir/ehr-identity';
import { EhrEndpointRegistry } from '../registry/ehr-endpoint.registry';
import { PushQueue, type PushItem } from './push-queue';
import { ignoredByPushQueue } from './push-queue.rules';
import type { EhrEndpoint } from '../registry/ehr-endpoint.registry';
import { pushChannel } from './push.worker';
import { endpointOfReference } from '@carerelay/fhir';
import { remoteReferencesOf } from '../remote/remote-referral.rules';
import { RemoteReferralStore } from '../remote/remote-referral.store';
import { RemoteReferralWorker } from '../remote/remote-referral.worker';

export const CARERELAY_BASE_URL = Symbol('CARERELAY_BASE_URL');

/**
 * fhir.changes.v1 → the push queue: an update of a source Task whose requester organization has
 * a push endpoint, and which carries that EHR's Task identity (recorded at pull time), queues
 * that Task version for the EHR — in the inbox transaction, so it is queued exactly once. The
 * consumer runs in batch mode: the versions of a whole batch are queued in two statements, and
 * an organization's endpoints are read once per batch.
 */
@Controller()
export class TaskChangesHandler {
  private readonly logger = new Logger('ehr-push');

  /** An organization's push endpoints, read once per inbox transaction. */
  private readonly endpointsRead = new TransactionMemo<EhrEndpoint[]>();

  /** Queues the versions handed over in one transaction, and wakes the push worker. */
  private readonly queuing: BatchWriter<PushItem> = {
    write: async (manager, items) => {
      const queued = await this.queue.enqueue(manager, items);
      if (queued.length === 0) return;
      await manager.query('SELECT pg_notify($1, $2)', [pushChannel(this.schema), '']);
      this.logger.debug(`queued ${queued.length} Task versions`);
    },
  };

  constructor(
    private readonly registry: EhrEndpointRegistry,
    private readonly queue: PushQueue,
    private readonly remoteReferrals: RemoteReferralStore,
    private readonly remoteWorker: RemoteReferralWorker,
    @Inject(CARERELAY_BASE_URL) private readonly carerelayBaseUrl: string,
    @Inject(SERVICE_SCHEMA) private readonly schema: string,
  ) {}

  /**
   * A referral Task naming its ServiceRequest (or Patient) on its requester's EHR is queued, in
   * the inbox transaction, to be fetched from that EHR by the endpoint whose base it is on (the
   * FHIR API accepted it for that reason). The fetch runs after commit (RemoteReferralWorker).
   */
  private async queueRemoteFetch(
    change: FhirResourceChangedV1,
    context: EventContext,
  ): Promise<void> {
    const remote = remoteReferencesOf(change, this.carerelayBaseUrl);
    if (!remote) return;
    const task = change.resource as Resource;
    const requester = relativeTo(task.requester?.reference, this.carerelayBaseUrl);
    if (!requester?.startsWith('Organization/')) return;
    const endpoints = await this.registry.enabledEndpointsOf(
      context.manager,
      requester.slice('Organization/'.length),
    );
    const match = endpointOfReference(remote.focus ?? remote.for, endpoints);
    if (!match) {
      this.logger.warn(`Task/${change.id}: names a server that is no endpoint of its requester`);
      return;
    }
    if (await this.remoteReferrals.enqueue(context.manager, change.id, match.endpoint.id)) {
      const wake = () => this.remoteWorker.wake();
      if (typeof context.afterCommit === 'function') context.afterCommit(wake);
      else wake();
    }
  }

  @EventPattern(EventTypes.fhirResourceChanged.type)
  async onResourceChanged(
    @Payload() event: CloudEvent<FhirResourceChangedV1>,
    @Ctx() context: EventContext,
  ): Promise<void> {
    await this.queueRemoteFetch(event.data, context);
    if (ignoredByPushQueue(event)) return;
    const change = event.data;
    const task = change.resource as Resource;
    const requester = relativeTo(task.requester?.reference, this.carerelayBaseUrl);
    if (!requester?.startsWith('Organization/')) return;
    const organizationId = requester.slice('Organization/'.length);
    for (const endpoint of await this.pushEndpointsOf(context.manager, organizationId)) {
      const ehrTaskId = ehrIdOf(task as { identifier?: [] }, endpoint.baseUrl, 'Task');
      if (!ehrTaskId) continue;
      await context.defer(this.queuing, {
        taskId: change.id,
        version: Number(change.versionId),
        task,
        changedAt: change.lastUpdated,
        endpointId: endpoint.id,
        ehrTaskId,
      });
    }
  }

  private pushEndpointsOf(manager: EntityManager, organizationId: string): Promise<EhrEndpoint[]> {
    return this.endpointsRead.get(manager, organizationId, () =>
      this.registry.pushEndpointsOf(manager, organizationId),
    );
  }
}
