import { safeErrorText } from '@carerelay/persistence';
import { Client } from 'pg';
import type { Resource } from '@medplum/fhirtypes';
import { EventTypes, type CloudEvent, type FhirResourceChangedV1 } from '@carerelay/contracts';
import {
  backoffMs,
  IdempotentConsumer,
  type EventHandlingContext,
  type MessageBus,
  type RetryPolicy,
} from '@carerelay/messaging';
import { extractSearchIndex, searchIndexMatches, type FhirSearchRequest } from '../fhir-lib';
import type { RequestActor } from '../request-actor';
import type { ResourceStore } from '../store/resource-store';
import {
  notificationBundle,
  parseFilter,
  type NotificationEvent,
  type NotificationType,
  type StoredSubscription,
} from './backport';
import type { PendingEvent, SubscriptionStore } from './subscription-store';
import { checkHeaders, type EndpointPolicy } from './endpoint-policy';
import { DeliveryFailed, postNotification } from './notification-delivery';

export interface SubscriptionEngineOptions {
  groupId: string;
  pollMs: number;
  concurrency: number;
  retry: RetryPolicy;
  /** Where notifications may go (endpoint-policy.ts). */
  endpoints: EndpointPolicy;
  logger?: Pick<Console, 'warn' | 'error'>;
}

const channelOf = (schema: string) => `carerelay_subscriptions_${schema}`;

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
  private running = false;
  private timer?: NodeJS.Timeout;
  private draining?: Promise<void>;
  private again = false;
  private listener?: Client;
  private readonly filterCache = new Map<string, FhirSearchRequest>();

  constructor(
    private readonly store: SubscriptionStore,
    private readonly resources: () => ResourceStore,
    private readonly bus: MessageBus,
    private readonly baseUrl: () => string,
    private readonly options: SubscriptionEngineOptions,
  ) {}

  async start(): Promise<void> {
    this.running = true;
    this.consumer = new IdempotentConsumer(this.store.dataSource, this.bus, {
      schema: this.store.schema,
      groupId: this.options.groupId,
      topics: [EventTypes.fhirResourceChanged.topic],
      handlerFor: (type) =>
        type === EventTypes.fhirResourceChanged.type
          ? (event, context) => this.onChange(event as CloudEvent<FhirResourceChangedV1>, context)
          : undefined,
      logger: this.options.logger,
    });
    await this.consumer.start();
    await this.listen();
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.consumer?.stop();
    await this.draining;
    await this.listener?.end().catch(() => undefined);
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
    if (change.resourceType !== 'Task' || change.action === 'delete' || !change.resource) return;
    const subs = await this.store.live(context.manager);
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
    if (queued)
      await context.manager.query('SELECT pg_notify($1, $2)', [channelOf(this.store.schema), '']);
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

  private schedule(ms: number): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.wake(), ms);
  }

  wake(): void {
    if (!this.running) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = this.drain()
      .catch((error: unknown) =>
        this.options.logger?.warn(`subscriptions: ${safeErrorText(error)}`),
      )
      .finally(() => {
        this.draining = undefined;
        const again = this.again;
        this.again = false;
        this.schedule(again ? 0 : this.options.pollMs);
      });
  }

  private async drain(): Promise<void> {
    for (const sub of await this.store.claimHeartbeats()) {
      await this.send(sub, 'heartbeat').catch((error: unknown) =>
        this.options.logger?.warn(
          `subscription ${sub.id}: heartbeat not delivered: ${this.reasonOf(error)}`,
        ),
      );
    }
    const due = await this.store.dueSubscriptions(this.options.concurrency * 4);
    let next = 0;
    const lane = async () => {
      while (next < due.length && this.running) {
        const id = due[next++];
        await this.deliver(id).catch((error: unknown) =>
          this.options.logger?.warn(`subscription ${id}: ${safeErrorText(error)}`),
        );
      }
    };
    await Promise.all(Array.from({ length: this.options.concurrency }, lane));
  }

  private async deliver(id: string): Promise<void> {
    await this.store.withLock(id, async (manager) => {
      for (const pending of await this.store.pending(manager, id)) {
        if (Date.parse(pending.nextAttemptAt) > Date.now()) return; // in order
        const sub = await this.store.get(id);
        if (!sub || sub.status === 'off') return;
        try {
          await this.send(sub, 'event-notification', [await this.eventOf(sub, pending)]);
          await this.store.markDelivered(manager, pending);
        } catch (error) {
          const attempts = pending.attempts + 1;
          const failed = attempts >= this.options.retry.maxAttempts;
          // What is stored is what the subscriber may read back: never the remote side's answer.
          this.options.logger?.warn(
            `subscription ${id}: event ${pending.eventNumber} attempt ${attempts} not delivered: ${this.reasonOf(error)}`,
          );
          await this.store.markFailed(manager, pending, 'delivery failed', {
            failed,
            delayMs: failed ? 0 : backoffMs(this.options.retry, attempts),
          });
          if (!failed) return;
        }
      }
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

  private async listen(): Promise<void> {
    const url = (this.store.dataSource.options as { url?: string }).url;
    if (!url) return;
    const client = new Client({ connectionString: url });
    client.on('error', () => undefined);
    client.on('notification', () => this.wake());
    try {
      await client.connect();
      await client.query(`LISTEN ${channelOf(this.store.schema)}`);
      this.listener = client;
    } catch {
      await client.end().catch(() => undefined);
    }
  }
}
