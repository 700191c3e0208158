import { randomUUID } from 'node:crypto';
import type {
  Bundle,
  BundleEntry,
  Parameters,
  ParametersParameter,
  Resource,
} from '@medplum/fhirtypes';
import {
  BACKPORT_EXT,
  STATUS_PROFILE,
  SUBSCRIPTION_PROFILE,
  TASK_TOPIC,
  parseSearchRequest,
  unprocessable,
  type FhirSearchRequest,
} from '@carerelay/fhir';
import { checkHeaders, endpointRefused } from './endpoint-policy';

export { SUBSCRIPTION_PROFILE, STATUS_PROFILE, TASK_TOPIC };
export const EXT = BACKPORT_EXT;

/** The Task topic's filter parameters (the IG's: owner, requester, status, code; plus focus, patient). */
export const TASK_FILTER_PARAMS = new Set([
  'owner',
  'requester',
  'status',
  'code',
  'focus',
  'patient',
]);

export type PayloadContent = 'empty' | 'id-only' | 'full-resource';
export type SubscriptionStatusCode = 'requested' | 'active' | 'error' | 'off';
export type NotificationType = 'handshake' | 'heartbeat' | 'event-notification' | 'query-status';

export interface SubscriptionRequest {
  topic: string;
  filters: string[];
  endpoint: string;
  payload: PayloadContent;
  headers: string[];
  heartbeatSeconds?: number;
  timeoutSeconds: number;
  end?: string;
  reason?: string;
}

type Ext = {
  url?: string;
  valueString?: string;
  valueUnsignedInt?: number;
  valueCode?: string;
  valuePositiveInt?: number;
};
type Any = Record<string, unknown>;

const exts = (element: unknown): Ext[] =>
  ((element as { extension?: Ext[] } | undefined)?.extension ?? []) as Ext[];

/** Parses a filter criterion (`Task?owner=Organization/x&status=completed`) into a search. */
export function parseFilter(filter: string): FhirSearchRequest {
  const q = filter.indexOf('?');
  const type = q === -1 ? filter : filter.slice(0, q);
  if (type !== 'Task')
    throw unprocessable(
      `filter criteria of the Task topic search Task (got "${filter}")`,
      'Subscription.criteria',
    );
  const query = new URLSearchParams(q === -1 ? '' : filter.slice(q + 1));
  for (const key of query.keys()) {
    const param = key.split(':')[0];
    if (!TASK_FILTER_PARAMS.has(param))
      throw unprocessable(
        `the Task topic filters by ${[...TASK_FILTER_PARAMS].join(', ')} (not "${key}")`,
        'Subscription.criteria',
      );
  }
  return parseSearchRequest('Task', query);
}

/** Validates a Backport Subscription (R4) as a client sends it. 422 for what this server does not do. */
export function parseSubscription(body: unknown): SubscriptionRequest {
  const sub = body as Any | undefined;
  if (!sub || typeof sub !== 'object' || sub.resourceType !== 'Subscription')
    throw unprocessable('the body must be a Subscription', 'Subscription');
  if (sub.criteria !== TASK_TOPIC)
    throw unprocessable(`the only topic served is ${TASK_TOPIC}`, 'Subscription.criteria');
  const filters = exts(sub._criteria)
    .filter((e) => e.url === EXT.filterCriteria)
    .map((e) => e.valueString ?? '');
  for (const filter of filters) parseFilter(filter);
  const channel = (sub.channel ?? {}) as Any;
  if (channel.type !== 'rest-hook')
    throw unprocessable('only the rest-hook channel is supported', 'Subscription.channel.type');
  const endpoint = channel.endpoint;
  if (typeof endpoint !== 'string' || !/^https?:\/\/\S+$/.test(endpoint)) throw endpointRefused();
  if (
    channel.payload !== undefined &&
    !/^application\/(fhir\+)?json$/.test(String(channel.payload))
  )
    throw unprocessable(
      'channel.payload must be application/fhir+json',
      'Subscription.channel.payload',
    );
  const content =
    exts(channel._payload).find((e) => e.url === EXT.payloadContent)?.valueCode ?? 'id-only';
  if (!['empty', 'id-only', 'full-resource'].includes(content))
    throw unprocessable(
      `payload content "${content}" is not empty, id-only or full-resource`,
      'Subscription.channel.payload',
    );
  const rawHeaders: unknown = channel.header ?? [];
  if (!Array.isArray(rawHeaders))
    throw unprocessable('channel.header must be a list', 'Subscription.channel.header');
  const headers = checkHeaders(rawHeaders).map(([name, value]) => `${name}: ${value}`);
  const heartbeat = exts(channel).find((e) => e.url === EXT.heartbeat)?.valueUnsignedInt;
  const timeout = exts(channel).find((e) => e.url === EXT.timeout)?.valueUnsignedInt;
  if (heartbeat !== undefined && (!Number.isInteger(heartbeat) || heartbeat < 1))
    throw unprocessable(
      'heartbeat period must be a positive number of seconds',
      'Subscription.channel',
    );
  if (sub.end !== undefined && (typeof sub.end !== 'string' || Number.isNaN(Date.parse(sub.end))))
    throw unprocessable('end must be an instant', 'Subscription.end');
  return {
    topic: TASK_TOPIC,
    filters,
    endpoint,
    payload: content as PayloadContent,
    headers,
    heartbeatSeconds: heartbeat,
    timeoutSeconds: Math.min(Math.max(timeout ?? 10, 1), 60),
    end: sub.end as string | undefined,
    reason: typeof sub.reason === 'string' ? sub.reason : undefined,
  };
}

export interface StoredSubscription extends SubscriptionRequest {
  id: string;
  status: SubscriptionStatusCode;
  eventCount: number;
  error?: string;
  ownerOrg: string;
  ownerRole: string;
  ownerClient: string;
}

/** The Subscription resource as the server answers it (status, criteria, channel; no headers). */
export function subscriptionResource(sub: StoredSubscription): Resource {
  const channel: Any = {
    type: 'rest-hook',
    endpoint: sub.endpoint,
    payload: 'application/fhir+json',
    _payload: { extension: [{ url: EXT.payloadContent, valueCode: sub.payload }] },
    extension: [
      ...(sub.heartbeatSeconds
        ? [{ url: EXT.heartbeat, valueUnsignedInt: sub.heartbeatSeconds }]
        : []),
      { url: EXT.timeout, valueUnsignedInt: sub.timeoutSeconds },
    ],
  };
  return {
    resourceType: 'Subscription',
    id: sub.id,
    meta: { profile: [SUBSCRIPTION_PROFILE] },
    status: sub.status,
    reason: sub.reason ?? 'Task changes',
    ...(sub.end ? { end: sub.end } : {}),
    ...(sub.error ? { error: sub.error } : {}),
    criteria: sub.topic,
    ...(sub.filters.length > 0
      ? {
          _criteria: {
            extension: sub.filters.map((f) => ({ url: EXT.filterCriteria, valueString: f })),
          },
        }
      : {}),
    channel,
  } as unknown as Resource;
}

export interface NotificationEvent {
  eventNumber: number;
  timestamp: string;
  focus: { resourceType: string; id: string; versionId: number };
  resource?: Resource;
}

/** The SubscriptionStatus (R4: a Parameters with the Backport's status profile). */
export function statusParameters(
  base: string,
  sub: StoredSubscription,
  type: NotificationType,
  events: NotificationEvent[] = [],
): Parameters {
  const parameter: ParametersParameter[] = [
    { name: 'subscription', valueReference: { reference: `${base}/Subscription/${sub.id}` } },
    { name: 'topic', valueCanonical: sub.topic },
    { name: 'status', valueCode: sub.status },
    { name: 'type', valueCode: type },
    { name: 'events-since-subscription-start', valueString: String(sub.eventCount) },
    ...events.map((e) => ({
      name: 'notification-event',
      part: [
        { name: 'event-number', valueString: String(e.eventNumber) },
        { name: 'timestamp', valueInstant: e.timestamp },
        ...(sub.payload === 'empty'
          ? []
          : [
              {
                name: 'focus',
                valueReference: { reference: `${base}/${e.focus.resourceType}/${e.focus.id}` },
              },
            ]),
      ],
    })),
    ...(sub.error && sub.status === 'error'
      ? [{ name: 'error', valueCodeableConcept: { text: sub.error } }]
      : []),
  ];
  return { resourceType: 'Parameters', meta: { profile: [STATUS_PROFILE] }, parameter };
}

/** A notification Bundle: `history`, the SubscriptionStatus first, then the focus entries. */
export function notificationBundle(
  base: string,
  sub: StoredSubscription,
  type: NotificationType,
  events: NotificationEvent[] = [],
): Bundle {
  const entry: BundleEntry[] = [
    {
      fullUrl: `urn:uuid:${randomUUID()}`,
      resource: statusParameters(base, sub, type, events),
      request: { method: 'GET', url: `${base}/Subscription/${sub.id}/$status` },
      response: { status: '200' },
    },
  ];
  if (sub.payload !== 'empty') {
    for (const e of events) {
      entry.push({
        fullUrl: `${base}/${e.focus.resourceType}/${e.focus.id}`,
        ...(sub.payload === 'full-resource' && e.resource ? { resource: e.resource } : {}),
        request: { method: 'PUT', url: `${e.focus.resourceType}/${e.focus.id}` },
        response: { status: '200', etag: `W/"${e.focus.versionId}"` },
      } as BundleEntry);
    }
  }
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    type: 'history',
    timestamp: new Date().toISOString(),
    entry,
  };
}
