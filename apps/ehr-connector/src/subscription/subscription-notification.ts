/**
 * A rest-hook notification of the Subscriptions R5 Backport IG on R4, as an EHR sends it: a
 * `history` Bundle whose first entry is a SubscriptionStatus (a `Parameters`), then one entry per
 * event focus (a fullUrl only for `id-only`, the resource too for `full-resource`). Plain parsing,
 * no I/O: what it cannot read is a NotificationRefused (400), before anything is changed.
 */

export type NotificationType =
  'handshake' | 'heartbeat' | 'event-notification' | 'query-status' | 'query-event';

const TYPES: readonly NotificationType[] = [
  'handshake',
  'heartbeat',
  'event-notification',
  'query-status',
  'query-event',
];

export interface NotificationEvent {
  eventNumber: number;
  /** The focus reference as the notification names it (absolute on the EHR, or relative). */
  focus?: string;
  /** The focus resource when the notification carries it (full-resource). */
  resource?: Record<string, unknown>;
}

export interface SubscriptionNotification {
  type: NotificationType;
  /** The EHR's Subscription (`subscription` parameter), as it names it. */
  subscription: string;
  /** Events the Subscription has raised since it started (the last event number). */
  eventsSinceSubscriptionStart: number;
  events: NotificationEvent[];
}

export class NotificationRefused extends Error {
  override name = 'NotificationRefused';
}

type Any = Record<string, unknown>;
interface Parameter {
  name?: string;
  part?: Parameter[];
  valueString?: string;
  valueInteger?: number;
  valueUnsignedInt?: number;
  valuePositiveInt?: number;
  valueInteger64?: string | number;
  valueDecimal?: number;
  valueCode?: string;
  valueReference?: { reference?: string };
  valueCanonical?: string;
  valueUri?: string;
}

/** The largest count accepted: beyond it a number is not an event counter but a mistake. */
const MAX_COUNT = Number.MAX_SAFE_INTEGER;

/** An event counter: integer64 is a string in R4 (`valueString`), some servers send integers. */
function countOf(parameter: Parameter | undefined, what: string): number | undefined {
  if (!parameter) return undefined;
  const raw =
    parameter.valueString ??
    parameter.valueInteger64 ??
    parameter.valueInteger ??
    parameter.valueUnsignedInt ??
    parameter.valuePositiveInt ??
    parameter.valueDecimal;
  const text = typeof raw === 'number' ? String(raw) : raw;
  if (typeof text !== 'string' || !/^\d{1,16}$/.test(text) || Number(text) > MAX_COUNT)
    throw new NotificationRefused(`${what} must be a non-negative integer`);
  return Number(text);
}

const referenceOf = (parameter: Parameter | undefined): string | undefined =>
  parameter?.valueReference?.reference ?? parameter?.valueCanonical ?? parameter?.valueUri;

/** Parses a notification Bundle (any malformed part: NotificationRefused). */
export function parseNotification(body: unknown): SubscriptionNotification {
  const bundle = body as Any | undefined;
  if (!bundle || typeof bundle !== 'object' || bundle.resourceType !== 'Bundle')
    throw new NotificationRefused('the notification must be a Bundle');
  if (bundle.type !== 'history')
    throw new NotificationRefused('the notification Bundle must be of type history');
  if (!Array.isArray(bundle.entry) || bundle.entry.length === 0)
    throw new NotificationRefused('the notification Bundle has no SubscriptionStatus entry');
  const [first, ...rest] = bundle.entry as Any[];
  const status = (first as { resource?: Any } | undefined)?.resource;
  if (!status || status.resourceType !== 'Parameters' || !Array.isArray(status.parameter))
    throw new NotificationRefused('the first entry must be a SubscriptionStatus (Parameters)');
  const parameters = status.parameter as Parameter[];
  const one = (name: string) => parameters.find((p) => p?.name === name);

  const type = one('type')?.valueCode as NotificationType | undefined;
  if (!type || !TYPES.includes(type))
    throw new NotificationRefused(`the notification type must be one of ${TYPES.join(', ')}`);
  const subscription = referenceOf(one('subscription'));
  if (typeof subscription !== 'string' || subscription.length === 0 || subscription.length > 2000)
    throw new NotificationRefused('the SubscriptionStatus names no subscription');

  const entries = rest.map((e) => ({
    fullUrl: typeof e?.fullUrl === 'string' ? e.fullUrl : undefined,
    resource:
      e?.resource && typeof e.resource === 'object'
        ? (e.resource as Record<string, unknown>)
        : undefined,
  }));
  const resourceAt = (focus: string | undefined) =>
    focus === undefined ? undefined : entries.find((e) => e.fullUrl === focus)?.resource;

  let events: NotificationEvent[] = parameters
    .filter((p) => p?.name === 'notification-event')
    .map((p) => {
      const parts = Array.isArray(p.part) ? p.part : [];
      const eventNumber = countOf(
        parts.find((q) => q?.name === 'event-number'),
        'event-number',
      );
      if (eventNumber === undefined)
        throw new NotificationRefused('a notification-event has no event-number');
      const focus = referenceOf(parts.find((q) => q?.name === 'focus'));
      return { eventNumber, focus, resource: resourceAt(focus) };
    });

  const since = countOf(one('events-since-subscription-start'), 'events-since-subscription-start');
  if (events.length === 0 && type === 'event-notification') {
    // Backport 1.0 style: no notification-event, the events are the entries, numbered up to
    // events-since-subscription-start (events-in-notification of them).
    const count =
      countOf(one('events-in-notification'), 'events-in-notification') ?? entries.length;
    if (since === undefined)
      throw new NotificationRefused(
        'an event-notification needs notification-event or events-since-subscription-start',
      );
    if (count !== entries.length || count > since)
      throw new NotificationRefused('events-in-notification does not match the entries');
    events = entries.map((e, i) => ({
      eventNumber: since - count + 1 + i,
      focus: e.fullUrl,
      resource: e.resource,
    }));
  }
  if (type === 'event-notification' && events.length === 0)
    throw new NotificationRefused('an event-notification carries no event');
  const highest = Math.max(0, ...events.map((e) => e.eventNumber));
  return {
    type,
    subscription,
    eventsSinceSubscriptionStart: Math.max(since ?? 0, highest),
    events: events.sort((a, b) => a.eventNumber - b.eventNumber),
  };
}

export interface NotificationProgress {
  /** Events of this notification not applied before (numbered above the last one applied). */
  fresh: NotificationEvent[];
  /**
   * How many events were raised but never received: numbered between the last one applied and
   * the first of this notification, or (heartbeat, handshake) below events-since-subscription-start.
   */
  missed: number;
  /** The highest event number known once this notification is taken. */
  last: number;
}

/**
 * The event-number gap check: events at or below `lastApplied` were applied (or a catch-up pull
 * ran after they happened), so they are skipped; a hole before the first fresh one, or a counter
 * ahead of what arrived, means notifications were lost.
 */
export function progressOf(
  notification: SubscriptionNotification,
  lastApplied: number,
): NotificationProgress {
  const fresh = notification.events.filter((e) => e.eventNumber > lastApplied);
  const numbers = new Set(fresh.map((e) => e.eventNumber));
  const last = Math.max(lastApplied, notification.eventsSinceSubscriptionStart);
  return { fresh, missed: last - lastApplied - numbers.size, last };
}
