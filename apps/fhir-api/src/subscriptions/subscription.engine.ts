import { safeErrorText, TransactionMemo } from '@carerelay/persistence';
import type { Resource } from '@medplum/fhirtypes';
import {
  EventTypes,
  TOPICS,
  type CloudEvent,
  type FhirResourceChangedV1,
} from '@carerelay/contracts';
import {
  deliverInOrder,
  IdempotentConsumer,
  PollingLoop,
  QUIET_POLL_MS,
  type EventHandlingContext,
  type MessageBus,
  type RetryPolicy,
} from '@carerelay/messaging';
import { extractSearchIndex, searchIndexMatches, type FhirSearchRequest } from '@carerelay/fhir';
import type { RequestActor } from '../request-actor';
import type { ResourceStore } from '../store/resource.store';
import {
  notificationBundle,
  parseFilter,
  type NotificationEvent,
  type NotificationType,
  type StoredSubscription,
} from './backport';
import type { PendingEvent, SubscriptionStore } from './subscription.store';
import { checkHeaders, type EndpointPolicy } from './endpoint-policy';
import { DeliveryFailed, postNotification } from './notification.delivery';

export interface SubscriptionEngineOptions {
  groupId: string;
  pollMs: number;
  concurrency: number;
  retry: RetryPolicy;
  /** Where notifications may go (endpoint-policy.ts). */
  endpoints: EndpointPolicy;
  logger?: Pick<Console, 'warn' | 'error'>;
}

/** How long the broker may hold a fetch of changes to gather more into one transaction. */
export const CHANGES_GATHER_MS = 250;

/** Subscriptions are on Tasks (backport.ts): only a Task's new version can notify. */
export const notifiable = (change: FhirResourceChangedV1 | undefined): boolean =>
  change?.resourceType === 'Task' && change.action !== 'delete' && Boolean(change.resource);

export const actorOfSubscription = (sub: StoredSubscription): RequestActor => ({
  clientId: sub.ownerClient,
  organizationId: sub.ownerOrg,
  role: sub.ownerRole as RequestActor['role'],
  scopes: ['system/Task.rs'],
});

/**
 * Runs the subscriptions: consumes fhir.changes.v1 (its own consumer group, inbox in the
 * fhir-api's schema), numbers each matching Task change per subscription in the inbox
 * transaction, and delivers the numbered events in order from that durable queue (retried with
 * backoff; after bounded failures an event is marked failed and the subscription is in `error`
 * until a later delivery succeeds — the client sees the gap in the event numbers). Heartbeats too.
 */
export class SubscriptionEngine {
  private consumer?: IdempotentConsumer;
  private readonly loop: PollingLoop;
  private readonly filterCache = new Map<string, FhirSearchRequest>();
  /** The live subscriptions, read once per inbox transaction (a batch of changes). */
  private readonly liveRead = new TransactionMemo<StoredSubscription[]>();

  constructor(
    private readonly store: SubscriptionStore,
    private readonly resources: () => ResourceStore,
    private readonly bus: MessageBus,
    private readonly baseUrl: () => string,
    private readonly options: SubscriptionEngineOptions,
  ) {
    this.loop = new PollingLoop({
      intervalMs: options.pollMs,
      // A queued event and a status change NOTIFY; the drain tells when the next heartbeat or
      // retry falls due: polling is then only the safety net.
      quietIntervalMs: QUIET_POLL_MS,
      dueInMs: (result) => result as number | undefined,
      tick: () => this.drain(),
      onError: (error) => options.logger?.warn(`subscriptions: ${safeErrorText(error)}`),
      notify: {
        url: (store.dataSource.options as { url?: string }).url,
        channel: store.channel,
      },
    });
  }

  async start(): Promise<void> {
    this.consumer = new IdempotentConsumer(this.store.dataSource, this.bus, {
      schema: this.store.schema,
      groupId: this.options.groupId,
      topics: [EventTypes.fhirResourceChanged.topic],
      handlerFor: (type) =>
        type === EventTypes.fhirResourceChanged.type
          ? (event, context) => this.onChange(event as CloudEvent<FhirResourceChangedV1>, context)
          : undefined,
      // About half the changes are not of Tasks: passed over before any SQL (no inbox row).
      ignores: (event) => !notifiable(event.data as FhirResourceChangedV1),
      // One transaction per batch of a partition's changes, not per change: with one per change
      // this consumer fell further behind the demo's 2 referrals/s every minute. The events are
      // still numbered in the partition's order, and a failed batch is redone change by change.
      // Gathered: at the demo's rate nearly every batch held one change, so each change cost a
      // transaction of its own (four statements) though no subscription matched most of them. A
      // notification may wait up to CHANGES_GATHER_MS more; nobody's workflow waits on it.
      batch: { maxMessages: 200, acrossPartitions: true, gatherMs: CHANGES_GATHER_MS },
      partitionsConsumedConcurrently: TOPICS.fhirChanges.partitions,
      logger: this.options.logger,
    });
    await this.consumer.start();
    await this.loop.start();
  }

  async stop(): Promise<void> {
    const stopped = this.loop.stop();
    await this.consumer?.stop();
    await stopped;
  }

  wake(): void {
    this.loop.wake();
  }

  private filtersOf(sub: StoredSubscription): FhirSearchRequest[] {
    return sub.filters.map((f) => {
      let parsed = this.filterCache.get(f);
      if (!parsed) {
        parsed = parseFilter(f);
        this.filterCache.set(f, parsed);
      }
      return parsed;
    });
  }

  /** One fhir.changes.v1 event: a numbered event for each live subscription it matches. */
  async onChange(event: CloudEvent<FhirResourceChangedV1>, context: EventHandlingContext) {
    const change = event.data;
    if (!notifiable(change)) return;
    const subs = await this.liveRead.get(context.manager, 'live', () =>
      this.store.live(context.manager),
    );
    if (subs.length === 0) return;
    const rows = extractSearchIndex(change.resource as unknown as Resource, {
      localBaseUrls: [this.baseUrl()],
    });
    let queued = false;
    for (const sub of subs) {
      const matches = this.filtersOf(sub).every((f) => searchIndexMatches(f.filters, rows));
      if (!matches) continue;
      // The one disclosure decision, as the subscriber: readable at all, and not matched by a
      // filter on patient data the subscriber may not see (that would tell it who the Task is about).
      const visible = await this.resources().run(actorOfSubscription(sub), async (tx) =>
        tx.disclose(await tx.version('Task', change.id, Number(change.versionId)), {
          matchedOn: this.filtersOf(sub).flatMap((f) => f.filters),
        }),
      );
      if (!visible) continue;
      await this.store.appendEvent(context.manager, sub.id, {
        type: 'Task',
        id: change.id,
        version: Number(change.versionId),
        occurredAt: change.lastUpdated,
      });
      queued = true;
    }
    if (queued) await context.manager.query('SELECT pg_notify($1, $2)', [this.store.channel, '']);
  }

  /** POSTs a notification Bundle to the subscriber's endpoint; throws DeliveryFailed unless 2xx. */
  async send(
    sub: StoredSubscription,
    type: NotificationType,
    events: NotificationEvent[] = [],
  ): Promise<void> {
    await postNotification(
      sub.endpoint,
      checkHeaders(sub.headers),
      JSON.stringify(notificationBundle(this.baseUrl(), sub, type, events)),
      sub.timeoutSeconds * 1000,
      this.options.endpoints,
    );
  }

  /** The reason of a failed delivery, for the server's log only (no PHI: a status or an error). */
  private reasonOf(error: unknown): string {
    return error instanceof DeliveryFailed ? error.reason : (error as Error)?.message;
  }

  /** One pass: heartbeats and deliveries due now; returns in how many ms the next falls due. */
  private async drain(): Promise<number | undefined> {
    const heartbeats = await this.store.claimHeartbeats();
    let dueInMs = heartbeats.nextInMs;
    const dueIn = (ms: number) => (dueInMs = Math.min(dueInMs ?? ms, ms));
    for (const sub of heartbeats.due) {
      await this.send(sub, 'heartbeat').catch((error: unknown) =>
        this.options.logger?.warn(
          `subscription ${sub.id}: heartbeat not delivered: ${this.reasonOf(error)}`,
        ),
      );
    }
    const { keys: due, nextDueInMs } = await this.store.dueSubscriptions(
      this.options.concurrency * 4,
    );
    if (nextDueInMs !== undefined) dueIn(nextDueInMs);
    let next = 0;
    const lane = async () => {
      while (next < due.length && this.loop.isRunning) {
        const id = due[next++];
        await this.deliver(id, dueIn).catch((error: unknown) => {
          dueIn(this.options.pollMs); // nothing recorded: due again, seen by the next poll
          this.options.logger?.warn(`subscription ${id}: ${safeErrorText(error)}`);
        });
      }
    };
    await Promise.all(Array.from({ length: this.options.concurrency }, lane));
    return dueInMs;
  }

  private async deliver(id: string, dueIn: (ms: number) => void): Promise<void> {
    await this.store.withLock(id, async (manager) => {
      let sub: StoredSubscription | undefined;
      await deliverInOrder(await this.store.pending(manager, id), {
        retry: this.options.retry,
        waits: dueIn,
        before: async () => {
          sub = await this.store.get(id);
          return !sub || sub.status === 'off' ? 'stop' : 'deliver';
        },
        deliver: async (pending) => {
          const live = sub as StoredSubscription;
          await this.send(live, 'event-notification', [await this.eventOf(live, pending)]);
          await this.store.markDelivered(manager, pending);
        },
        failed: async (pending, error, { attempts, parked, delayMs }) => {
          // What is stored is what the subscriber may read back: never the remote side's answer.
          this.options.logger?.warn(
            `subscription ${id}: event ${pending.eventNumber} attempt ${attempts} not delivered: ${this.reasonOf(error)}`,
          );
          await this.store.markFailed(manager, pending, 'delivery failed', {
            failed: parked,
            delayMs,
          });
        },
      });
    });
  }

  private async eventOf(sub: StoredSubscription, e: PendingEvent): Promise<NotificationEvent> {
    const event: NotificationEvent = {
      eventNumber: e.eventNumber,
      timestamp: e.occurredAt,
      focus: { resourceType: e.focusType, id: e.focusId, versionId: e.focusVersion },
    };
    if (sub.payload === 'full-resource') {
      // Exactly what a read by the subscriber shows now (redacted alike), or nothing — nothing
      // too when the filter looked at patient data the subscriber may no longer see.
      const shown = await this.resources().run(actorOfSubscription(sub), async (tx) =>
        tx.disclose(await tx.version(e.focusType, e.focusId, e.focusVersion), {
          matchedOn: this.filtersOf(sub).flatMap((f) => f.filters),
        }),
      );
      event.resource = shown?.resource;
    }
    return event;
  }
}
