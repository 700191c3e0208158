import { Counter } from 'prom-client';
import { DataSource } from 'typeorm';
import { metricsRegistry } from '@carerelay/observability';
import { FhirRequestError, type FhirApiClient, type Resource } from '@carerelay/fhir-client';
import { EndpointDisabled } from '../fhir/failure';
import { relativeTo, type EhrClients } from '../fhir/fhir-clients';
import type { ApplyOutcome, EhrResourceApplier } from '../pull/ehr-resource.applier';
import { isRefusal, type PullPoller } from '../pull/pull.poller';
import type { EhrEndpoint, EhrEndpointRegistry } from '../registry/ehr-endpoint.registry';
import type { EhrSubscriptionRepository } from './ehr-subscription.repository';
import {
  NotificationRefused,
  parseNotification,
  progressOf,
  type NotificationEvent,
  type NotificationType,
} from './subscription-notification';

export const subscriptionGaps = new Counter({
  name: 'carerelay_ehr_subscription_gaps_total',
  help: 'Notifications from an EHR subscription that showed lost events (a catch-up pull followed)',
  labelNames: ['endpoint'],
  registers: [metricsRegistry],
});

export const subscriptionEvents = new Counter({
  name: 'carerelay_ehr_subscription_events_total',
  help: 'Events of EHR subscription notifications, by what became of them',
  labelNames: ['endpoint', 'outcome'],
  registers: [metricsRegistry],
});

/** What a notification did (answered to the EHR: counts only). */
export interface NotificationOutcome {
  type: NotificationType;
  /** Referrals brought into CareRelay by this notification. */
  taken: number;
  /** Later versions of pulled Tasks or ServiceRequests applied (a cancellation followed...). */
  changed: number;
  /** Events applied before (a duplicate delivery), or resources in CareRelay at this version. */
  alreadyApplied: number;
  /** Resources that are neither referrals for CareRelay nor changes of one, or not of this EHR. */
  ignored: number;
  /** Tasks CareRelay or the EHR refused as they are (4xx). */
  refused: number;
  /** Events lost before this notification (a catch-up pull ran). */
  missed: number;
  /** Whether the endpoint was pulled: events were lost, or named no focus (`empty` content). */
  pulled: boolean;
}

type Logger = Pick<Console, 'warn' | 'log'>;

/** Whether the EHR's Task names CareRelay as its owner, as the pull's search asks. */
export function isOwnedBy(task: Resource, endpoint: EhrEndpoint): boolean {
  const owner = (task.owner as { reference?: string } | undefined)?.reference;
  if (!owner) return false;
  if (owner === endpoint.platformOwnerReference) return true;
  const local = relativeTo(owner, endpoint.baseUrl);
  return (
    local !== undefined && local === relativeTo(endpoint.platformOwnerReference, endpoint.baseUrl)
  );
}

const TALLY: Record<ApplyOutcome, 'taken' | 'changed' | 'alreadyApplied' | 'ignored'> = {
  'taken-in': 'taken',
  cancelled: 'changed',
  recorded: 'changed',
  unchanged: 'alreadyApplied',
  'not-ours': 'ignored',
};

/**
 * Takes rest-hook notifications of an EHR's Subscription (R4 Backport): each event's focus (a Task
 * owned by CareRelay, or a ServiceRequest) goes through the pull's per-resource step
 * (EhrResourceApplier.apply: a new referral taken in, a later change of a pulled one applied),
 * read from the EHR with the endpoint's credentials for `id-only`, taken from the Bundle for
 * `full-resource` only when it is that resource of that EHR. Refusals are kept as the pull keeps
 * them (GET /pull/refusals). Event numbers at or below the last applied one are skipped (a duplicate
 * delivery applies once); a hole in them, or a heartbeat counting more events than arrived, runs
 * a catch-up pull of the endpoint first.
 */
export class NotificationReceiver {
  constructor(
    private readonly dataSource: DataSource,
    private readonly registry: EhrEndpointRegistry,
    private readonly subscriptions: EhrSubscriptionRepository,
    private readonly ehrClients: EhrClients,
    private readonly applier: EhrResourceApplier,
    private readonly poller: PullPoller,
    private readonly logger?: Logger,
  ) {}

  async receive(endpointId: string, body: unknown): Promise<NotificationOutcome> {
    const notification = parseNotification(body);
    const endpoint = await this.registry.get(endpointId);
    if (!endpoint) throw new NotificationRefused('no such endpoint');
    if (!endpoint.enabled) throw new EndpointDisabled();
    const subscription = relativeTo(notification.subscription, endpoint.baseUrl);
    if (!subscription?.startsWith('Subscription/'))
      throw new NotificationRefused("the subscription is not one of this endpoint's EHR");

    return this.subscriptions.withProgress(endpoint.id, async (state) => {
      // Another Subscription on the EHR (re-created): its events are numbered from 1 again.
      const lastApplied =
        state.subscriptionReference && state.subscriptionReference !== subscription
          ? 0
          : state.lastEventNumber;
      const progress = progressOf(notification, lastApplied);
      const outcome: NotificationOutcome = {
        type: notification.type,
        taken: 0,
        changed: 0,
        alreadyApplied: notification.events.length - progress.fresh.length,
        ignored: 0,
        refused: 0,
        missed: progress.missed,
        pulled: false,
      };
      const gap = progress.missed > 0;
      const carriesEvents =
        notification.type === 'event-notification' || notification.type === 'query-event';
      // An `empty` notification names no focus: only a pull can tell what changed.
      const unnamed = carriesEvents && progress.fresh.some((e) => e.focus === undefined);
      if (gap) {
        subscriptionGaps.inc({ endpoint: endpoint.id });
        this.logger?.warn(
          `ehr subscription ${endpoint.id}: ${progress.missed} event(s) missed after event ${lastApplied} (${notification.type}); catch-up pull`,
        );
      }
      if (gap || unnamed) {
        await this.poller.pollEndpoint(endpoint);
        outcome.pulled = true;
      }
      if (carriesEvents && progress.fresh.length > 0) {
        const ehr = await this.ehrClients.for(endpoint);
        for (const event of progress.fresh.filter((e) => e.focus !== undefined)) {
          const what = await this.apply(endpoint, ehr, event);
          outcome[what]++;
          subscriptionEvents.inc({ endpoint: endpoint.id, outcome: what });
        }
      }
      return {
        result: outcome,
        gap,
        applied: {
          subscriptionReference: subscription,
          lastEventNumber: progress.last,
          missedEvents: progress.missed,
        },
      };
    });
  }

  private async apply(
    endpoint: EhrEndpoint,
    ehr: FhirApiClient,
    event: NotificationEvent,
  ): Promise<'taken' | 'changed' | 'alreadyApplied' | 'ignored' | 'refused'> {
    const resource = await this.focusOf(endpoint, ehr, event);
    if (!resource) return 'ignored';
    if (resource.resourceType === 'Task' && !isOwnedBy(resource, endpoint)) return 'ignored';
    try {
      return TALLY[await this.applier.apply(endpoint, resource)];
    } catch (error) {
      if (!isRefusal(error)) throw error;
      await this.dataSource.transaction((manager) =>
        this.applier.recordRefusal(manager, endpoint, resource, error),
      );
      return 'refused';
    }
  }

  /**
   * The event's focus: a Task or ServiceRequest of this endpoint's EHR only. `full-resource`: the
   * Bundle's copy when it is that very resource (type and id of the focus); `id-only`: read from
   * the EHR.
   */
  private async focusOf(
    endpoint: EhrEndpoint,
    ehr: FhirApiClient,
    event: NotificationEvent,
  ): Promise<Resource | undefined> {
    const local = relativeTo(event.focus, endpoint.baseUrl);
    const [type, id] = local?.split('/') ?? [];
    if (type !== 'Task' && type !== 'ServiceRequest') return undefined;
    if (event.resource)
      return event.resource.resourceType === type && event.resource.id === id
        ? (event.resource as Resource)
        : undefined;
    try {
      return await ehr.read(type, id);
    } catch (error) {
      // Deleted since the event: nothing to take in.
      if (error instanceof FhirRequestError && [404, 410].includes(error.status)) return undefined;
      throw error;
    }
  }
}
