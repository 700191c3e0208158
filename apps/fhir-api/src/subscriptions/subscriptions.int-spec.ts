import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '@carerelay/config';
import { FhirApiClient } from '@carerelay/fhir-client';
import { dropSchema } from '@carerelay/persistence';
import { TOPICS } from '@carerelay/contracts';
import { startGroupAtLatest, testEnv, uniqueName, waitFor } from '@carerelay/testing';
import { startFhirApi, type RunningFhirApi } from '../bootstrap';
import { FhirApiConfig } from '../fhir-api.config';
import { referralBundle } from '../../test/fhir-api.harness';
import { EXT, STATUS_PROFILE, TASK_TOPIC } from './backport';
import { SUBSCRIPTION_MIGRATIONS, SubscriptionsModule } from './subscriptions.module';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = Record<string, any>;

const HOSPITAL = 'sub-hospital';

interface Received {
  type: string;
  eventsSinceStart: number;
  events: number[];
  bundle: Any;
}

/** A rest-hook endpoint that records every notification; it can be told to fail for a while. */
async function startSubscriber() {
  const received: Received[] = [];
  const state = { failNext: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const bundle: Any = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Any;
      const params: Any[] = bundle.entry[0].resource.parameter;
      const type = params.find((p) => p.name === 'type')!.valueCode as string;
      if (type === 'event-notification' && state.failNext > 0) {
        state.failNext--;
        res.writeHead(500).end();
        return;
      }
      received.push({
        type,
        eventsSinceStart: Number(
          params.find((p) => p.name === 'events-since-subscription-start')!.valueString,
        ),
        events: params
          .filter((p) => p.name === 'notification-event')
          .map((p) => Number(p.part.find((x: Any) => x.name === 'event-number').valueString)),
        bundle,
      });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return { url, received, state, close: () => new Promise((r) => server.close(r)) };
}

describe('Subscriptions Backport (real Kafka and PostgreSQL, fhir-kit-client)', () => {
  jest.setTimeout(90_000);
  let api: RunningFhirApi;
  let schema: string;
  let subscriber: Awaited<ReturnType<typeof startSubscriber>>;
  let ehr: FhirApiClient;
  let platform: FhirApiClient;

  beforeAll(async () => {
    const { KAFKA_BROKERS, DATABASE_URL } = testEnv();
    schema = uniqueName('fhir_subs').toLowerCase();
    const config = loadConfig(FhirApiConfig, {
      KAFKA_BROKERS,
      DATABASE_URL,
      FHIR_API_PORT: '0',
      FHIR_BASE_URL: 'http://127.0.0.1:8080/fhir',
      FHIR_DB_SCHEMA: schema,
      FHIR_AUTH_DISABLED: 'true',
      // The test's own subscriber listens on loopback over http.
      SUBSCRIPTION_ALLOWED_HTTP_HOSTS: '127.0.0.1',
      LOG_LEVEL: 'silent',
      OUTBOX_POLL_MS: '50',
      NODE_ENV: 'test',
    });
    const base = { url: '' };
    // Only this run's changes: a new group would otherwise replay every earlier run's.
    const groupId = uniqueName('fhir-api-subscriptions');
    await startGroupAtLatest(groupId, [TOPICS.fhirChanges.name]);
    api = await startFhirApi(config, {
      imports: [
        SubscriptionsModule.register({
          baseUrl: () => base.url,
          groupId,
          maxAttempts: 2,
          initialBackoffMs: 100,
          maxBackoffMs: 200,
          pollMs: 100,
        }),
      ],
      migrations: SUBSCRIPTION_MIGRATIONS,
    });
    base.url = api.baseUrl;
    subscriber = await startSubscriber();
    ehr = new FhirApiClient(api.baseUrl, undefined, {
      customHeaders: { 'X-Dev-Actor': `ehr:${HOSPITAL}` },
    });
    platform = new FhirApiClient(api.baseUrl, undefined, {
      customHeaders: { 'X-Dev-Actor': 'platform:carerelay-platform' },
    });
  });
  afterAll(async () => {
    await api?.close();
    await subscriber?.close();
    await dropSchema(testEnv().DATABASE_URL, schema);
  });

  const subscription = (filter: string, content = 'id-only', endpoint?: string) => ({
    resourceType: 'Subscription',
    status: 'requested',
    reason: 'outcomes of my referrals',
    criteria: TASK_TOPIC,
    _criteria: { extension: [{ url: EXT.filterCriteria, valueString: filter }] },
    channel: {
      extension: [{ url: EXT.heartbeat, valueUnsignedInt: 2 }],
      type: 'rest-hook',
      endpoint: endpoint ?? subscriber.url,
      payload: 'application/fhir+json',
      _payload: { extension: [{ url: EXT.payloadContent, valueCode: content }] },
    },
  });

  it('refuses what it does not serve with a 422 OperationOutcome', async () => {
    const bad = {
      ...subscription(`Task?requester=Organization/${HOSPITAL}`),
      criteria: 'Patient?',
    };
    await expect(ehr.create(bad)).rejects.toMatchObject({ status: 422 });
    await expect(ehr.create(subscription('Task?performer=x'))).rejects.toMatchObject({
      status: 422,
    });
  });

  it('handshake, a numbered notification per Task change, heartbeat; a missed delivery is a gap that $status and a search recover', async () => {
    const created: Any = await ehr.create(subscription(`Task?requester=Organization/${HOSPITAL}`));
    expect(created).toMatchObject({ resourceType: 'Subscription', status: 'active' });
    expect(subscriber.received[0]).toMatchObject({ type: 'handshake', eventsSinceStart: 0 });
    expect(subscriber.received[0].bundle).toMatchObject({
      resourceType: 'Bundle',
      type: 'history',
    });
    expect(subscriber.received[0].bundle.entry[0].resource.meta.profile).toEqual([STATUS_PROFILE]);

    // A referral from the hospital, and one from someone else (no notification for it).
    const answer = await ehr.transaction(
      referralBundle(uniqueName('sub'), { requesterOrg: HOSPITAL }),
    );
    const taskId = (answer.entry![2] as Any).response.location.split('/')[1] as string;
    await platform.transaction(referralBundle(uniqueName('other'), { requesterOrg: 'elsewhere' }));
    const setStatus = (status: string) =>
      platform.updateWithIfMatch('Task', taskId, (t) => ({ ...t, status }));
    await setStatus('accepted');
    await setStatus('in-progress');
    const notifications = () => subscriber.received.filter((r) => r.type === 'event-notification');
    await waitFor(() => notifications().length >= 3, {
      what: 'three notifications',
      timeoutMs: 60_000,
    });
    expect(notifications().map((n) => n.events[0])).toEqual([1, 2, 3]);
    for (const n of notifications()) {
      expect(n.bundle.entry[1]).toMatchObject({
        fullUrl: `${api.baseUrl}/Task/${taskId}`,
        request: { method: 'PUT', url: `Task/${taskId}` },
      });
      expect(n.bundle.entry[1].resource).toBeUndefined(); // id-only
    }

    // The subscriber's endpoint fails for event 4 (every attempt): it is never delivered.
    subscriber.state.failNext = 2;
    await setStatus('on-hold');
    const subId = created.id as string;
    await waitFor(
      async () => {
        const s = await ehr.read('Subscription', subId);
        return s.status === 'error';
      },
      { what: 'the subscription in error after the failed event', timeoutMs: 30_000 },
    );
    await setStatus('in-progress');
    await waitFor(() => notifications().length >= 4, { what: 'the next notification' });
    const seen = notifications().map((n) => n.events[0]);
    expect(seen).toEqual([1, 2, 3, 5]);
    // The client sees the gap (3 → 5), asks $status, then searches for what it missed.
    const lastSeenBefore = notifications()[2]
      .bundle.entry[0].resource.parameter.find((p: Any) => p.name === 'notification-event')
      .part.find((x: Any) => x.name === 'timestamp').valueInstant as string;
    // The subscription is active again once the delivery of event 5 has committed (just after
    // the subscriber answered it).
    await waitFor(async () => (await ehr.read('Subscription', subId)).status === 'active', {
      what: 'the subscription active again',
    });
    const status = await (await ehr.raw()).request(`Subscription/${subId}/$status`);
    const params = (status as Any).entry[0].resource.parameter as Any[];
    expect(params.find((p) => p.name === 'type')!.valueCode).toBe('query-status');
    expect(params.find((p) => p.name === 'events-since-subscription-start')!.valueString).toBe('5');
    expect(params.find((p) => p.name === 'status')!.valueCode).toBe('active');
    const missed = await ehr.search('Task', {
      requester: `Organization/${HOSPITAL}`,
      _lastUpdated: `gt${lastSeenBefore}`,
    });
    expect((missed.entry ?? []).map((e: Any) => e.resource.id)).toEqual([taskId]);

    // Heartbeats keep coming while nothing changes.
    await waitFor(() => subscriber.received.some((r) => r.type === 'heartbeat'), {
      what: 'a heartbeat',
      timeoutMs: 10_000,
    });
  });

  it('full-resource payload carries the Task version that changed', async () => {
    const created: Any = await ehr.create(
      subscription(`Task?requester=Organization/${HOSPITAL}&status=completed`, 'full-resource'),
    );
    const answer = await ehr.transaction(
      referralBundle(uniqueName('full'), { requesterOrg: HOSPITAL }),
    );
    const taskId = (answer.entry![2] as Any).response.location.split('/')[1] as string;
    for (const status of ['accepted', 'completed'])
      await platform.updateWithIfMatch('Task', taskId, (t) => ({ ...t, status }));
    const ours = () =>
      subscriber.received.filter(
        (r) =>
          r.type === 'event-notification' &&
          r.bundle.entry[0].resource.parameter[0].valueReference.reference.endsWith(created.id),
      );
    await waitFor(() => ours().length >= 1, { what: 'the completed notification' });
    expect(ours()[0].events).toEqual([1]);
    expect(ours()[0].bundle.entry[1].resource).toMatchObject({ id: taskId, status: 'completed' });
  });
});
