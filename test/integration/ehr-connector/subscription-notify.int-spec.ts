import { randomInt } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { EventTypes, TOPICS, type ConsentEventV1 } from '@carerelay/contracts';
import { dropSchema } from '@carerelay/persistence';
import {
  collectTopics,
  testEnv,
  uniqueName,
  waitFor,
  type CollectedMessage,
} from '@carerelay/testing';
import { startTestReferralService } from '../referral-service.harness';
import { publishCbos, publishEvent } from '../directory.fixtures';
import { FhirApiClient } from '@carerelay/fhir-client';
import {
  notificationBundle,
  type NotificationEvent,
  type NotificationType,
  type PayloadContent,
  type StoredSubscription,
} from '../../../apps/fhir-api/src/subscriptions/backport';
import { PullPoller } from '../../../apps/ehr-connector/src/pull/pull.poller';
import { EhrEndpointRegistry } from '../../../apps/ehr-connector/src/registry/ehr-endpoint.registry';
import {
  json,
  PLATFORM_ORG,
  placeReferralOnEhr,
  startEhrTestNetwork,
  type EhrTestNetwork,
  type Resource,
  type TestConnector,
} from './ehr-connector.harness';

const HOSPITAL_ORG = 'notifying-hospital-org';
const ENDPOINT = 'notifying-hospital';

/**
 * CareRelay as the client of an EHR's Subscription (R4 Backport, rest-hook): the Medplum EHR
 * server holds the referrals and the Subscription; the test is the EHR's notifier, building its
 * Bundles with the same code CareRelay's own FHIR API notifies with; referral-service routes what
 * comes in. The endpoint is registered
 * for push only: no background poll brings anything in, whatever arrives came by notification
 * (or by the catch-up pull a gap triggers).
 */
describe('ehr-connector: referrals by EHR subscription notifications (real Kafka, PostgreSQL, Medplum EHR server)', () => {
  jest.setTimeout(120_000);
  let network: EhrTestNetwork;
  let ehrServer: EhrTestNetwork['ehrServer'];
  let connector: TestConnector;
  let ehr: FhirApiClient;
  let platform: FhirApiClient;
  let carerelayTasksFor: EhrTestNetwork['carerelayTasksFor'];
  let secret: string;
  let notifyUrl: string;
  let eventCount = 0;

  // Routing, as referral-service does it, to a pantry of a ZIP code of this run only.
  const zip = String(randomInt(0, 100_000)).padStart(5, '0');
  const pantry = `cbo-sub-pantry-${zip}-${Date.now().toString(36)}`;
  const referralSchema = uniqueName('referral_sub').toLowerCase();
  let referralService: INestApplication;
  let referralEvents: { messages: CollectedMessage[]; stop: () => Promise<void> };

  beforeAll(async () => {
    network = await startEhrTestNetwork();
    ({ ehrServer, connector, ehr, platform, carerelayTasksFor } = network);
    referralService = await startTestReferralService({
      fhirBaseUrl: network.api.baseUrl,
      platformOrganizationId: PLATFORM_ORG,
      schema: referralSchema,
      groupId: uniqueName('referral-service-sub'),
      fhirClient: platform,
      env: { LOG_LEVEL: 'silent' },
    });
    referralEvents = await collectTopics([TOPICS.referralEvents.name]);
    await publishCbos(zip, [{ id: pantry, name: 'Pantry', categories: ['food-insecurity'] }]);
    const put = await json(`${connector.url}/ehr-endpoints/${ENDPOINT}`, 'PUT', {
      organizationId: HOSPITAL_ORG,
      baseUrl: ehrServer.baseUrl,
      auth: 'none',
      modes: ['push'],
    });
    expect(put.status).toBe(200);
    notifyUrl = `${connector.url}/ehr-notifications/${ENDPOINT}`;
  });
  afterAll(async () => {
    await referralEvents?.stop();
    await referralService?.close();
    await network?.close();
    await dropSchema(testEnv().DATABASE_URL, referralSchema);
  });

  /** referral-service's decision for a CareRelay Task, once the patient's consent is known. */
  async function routingOf(task: Resource): Promise<Resource> {
    await publishEvent(EventTypes.consentGranted, {
      consentId: uniqueName('consent'),
      patientId: task.for.reference.split('/')[1],
      organizationId: null,
      occurredAt: new Date().toISOString(),
      securityLabels: [],
    } satisfies ConsentEventV1);
    return waitFor(
      () =>
        referralEvents.messages
          .map((m) => (m.key === task.id ? JSON.parse(m.value!) : undefined))
          .find((e) => e?.state === 'routed'),
      { what: `referral ${task.id} routed`, timeoutMs: 60_000 },
    );
  }

  const subscriptionOnEhr = (payload: PayloadContent = 'id-only'): StoredSubscription => ({
    id: 'sub-1',
    status: 'active',
    eventCount,
    topic: 'http://hl7.org/fhir/us/sdoh-clinicalcare/SubscriptionTopic/Task',
    filters: [],
    endpoint: notifyUrl,
    payload,
    headers: [],
    timeoutSeconds: 10,
    ownerOrg: HOSPITAL_ORG,
    ownerRole: 'ehr',
    ownerClient: 'ehr',
  });

  /** The EHR's notification of `tasks` as events numbered from `first` (eventCount follows). */
  function bundleOf(
    type: NotificationType,
    tasks: Resource[] = [],
    options: { first?: number; payload?: PayloadContent } = {},
  ): Resource {
    const first = options.first ?? eventCount + 1;
    const events: NotificationEvent[] = tasks.map((task, i) => ({
      eventNumber: first + i,
      timestamp: new Date().toISOString(),
      focus: { resourceType: 'Task', id: task.id as string, versionId: 1 },
      resource: task as never,
    }));
    if (events.length > 0) eventCount = Math.max(eventCount, first + events.length - 1);
    return notificationBundle(
      ehrServer.baseUrl,
      subscriptionOnEhr(options.payload),
      type,
      events,
    ) as unknown as Resource;
  }

  async function notify(bundle: Resource, authorization: string | null = `Bearer ${secret}`) {
    const response = await fetch(notifyUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/fhir+json',
        ...(authorization === null ? {} : { authorization }),
      },
      body: JSON.stringify(bundle),
    });
    const text = await response.text();
    return {
      status: response.status,
      type: response.headers.get('content-type'),
      body: text ? JSON.parse(text) : undefined,
    };
  }

  const progress = async () =>
    (await json(`${connector.url}/ehr-endpoints/${ENDPOINT}/subscription`)).body as Resource;

  it('creates the Subscription on the EHR with a secret header, keeps the secret encrypted and never answers it again', async () => {
    const cbo = await connector.tokens.headers('cbo', 'cbo-1');
    const url = `${connector.url}/ehr-endpoints/${ENDPOINT}/subscription`;
    expect((await json(url, 'POST', { publicUrl: connector.url }, {})).status).toBe(401);
    expect((await json(url, 'POST', { publicUrl: connector.url }, cbo)).status).toBe(403);
    expect((await json(url, 'POST', { publicUrl: 'ftp://x' })).status).toBe(400);
    expect(
      (
        await json(`${connector.url}/ehr-endpoints/nope/subscription`, 'POST', {
          publicUrl: connector.url,
        })
      ).status,
    ).toBe(404);

    const created = await json(url, 'POST', {
      publicUrl: connector.url,
      content: 'id-only',
      heartbeatSeconds: 60,
      create: true,
    });
    expect(created.status).toBe(201);
    expect(created.body.notificationUrl).toBe(notifyUrl);
    const onEhr: Resource = await ehr.read('Subscription', created.body.ehrSubscriptionId);
    expect(onEhr).toMatchObject({
      criteria: 'http://hl7.org/fhir/us/sdoh-clinicalcare/SubscriptionTopic/Task',
      channel: { type: 'rest-hook', endpoint: notifyUrl, payload: 'application/fhir+json' },
    });
    expect(onEhr._criteria.extension[0].valueString).toBe(
      `Task?owner=Organization/${PLATFORM_ORG}`,
    );
    const header: string = onEhr.channel.header[0];
    expect(header).toMatch(/^Authorization: Bearer [A-Za-z0-9_-]{43}$/);
    secret = header.slice('Authorization: Bearer '.length);

    const state = await progress();
    expect(state).toMatchObject({
      endpointId: ENDPOINT,
      content: 'id-only',
      ehrSubscriptionId: created.body.ehrSubscriptionId,
      lastEventNumber: 0,
      notifications: 0,
    });
    expect(JSON.stringify(state)).not.toContain(secret);
    const [stored] = (await connector.app
      .get(DataSource)
      .query(
        `SELECT secret_ciphertext FROM "${connector.schema}".ehr_subscriptions WHERE endpoint_id = $1`,
        [ENDPOINT],
      )) as { secret_ciphertext: string }[];
    expect(stored.secret_ciphertext).toMatch(/^v1\./);
    expect(stored.secret_ciphertext).not.toContain(secret);
  });

  it('refuses a notification without the secret, with a wrong one or for another endpoint: 401 problem+json, nothing changes', async () => {
    const placed = await placeReferralOnEhr(ehr, 'sub-unauth');
    const bundle = bundleOf('event-notification', [placed.task], { first: 1 });
    eventCount = 0;
    const refusals = [
      await notify(bundle, null),
      await notify(bundle, 'Bearer wrong-secret'),
      await notify(bundle, `Basic ${Buffer.from(`x:${secret}`).toString('base64')}`),
      await notify(bundle, `Bearer ${secret}x`),
    ];
    const elsewhere = await fetch(`${connector.url}/ehr-notifications/other-hospital`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${secret}` },
      body: JSON.stringify(bundle),
    });
    for (const answer of [
      ...refusals,
      { status: elsewhere.status, type: elsewhere.headers.get('content-type') },
    ]) {
      expect(answer.status).toBe(401);
      expect(answer.type).toMatch(/^application\/problem\+json/);
    }
    expect(await carerelayTasksFor(placed.task.id as string)).toHaveLength(0);
    expect(await progress()).toMatchObject({ lastEventNumber: 0, notifications: 0, gaps: 0 });
    // With the secret, a body that is no notification: 400, still nothing recorded.
    const bad = await notify({ resourceType: 'Bundle', type: 'transaction', entry: [] });
    expect(bad.status).toBe(400);
    expect(await progress()).toMatchObject({ lastEventNumber: 0, notifications: 0 });
  });

  it('accepts the handshake', async () => {
    const answer = await notify(bundleOf('handshake'));
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ type: 'handshake', missed: 0, taken: 0 });
    expect(await progress()).toMatchObject({ lastEventNumber: 0, notifications: 1, gaps: 0 });
  });

  /** What routing and the rest of CareRelay see of a taken-in referral, without ids. */
  async function shapeOf(task: Resource): Promise<Resource> {
    const sr = await platform.read('ServiceRequest', task.focus.reference.split('/')[1]);
    const patient = await platform.read('Patient', task.for.reference.split('/')[1]);
    const consent = await platform.read('Consent', sr.supportingInfo[0].reference.split('/')[1]);
    const systems = (r: Resource) =>
      (r.identifier as Array<{ system: string }>).map((i) =>
        i.system.replace(ehrServer.baseUrl, '<ehr>'),
      );
    return {
      task: {
        status: task.status,
        intent: task.intent,
        code: task.code,
        requester: task.requester,
        owner: task.owner,
        identifiers: systems(task),
      },
      serviceRequest: {
        status: sr.status,
        code: sr.code,
        category: sr.category,
        requester: sr.requester,
        subjectIsPatient: sr.subject.reference === `Patient/${patient.id}`,
        identifiers: systems(sr),
      },
      patient: { identifiers: systems(patient), birthDate: patient.birthDate },
      consent: {
        status: consent.status,
        patientLinked: consent.patient.reference === task.for.reference,
      },
    };
  }

  it('an id-only event-notification brings the referral in, read from the EHR, and it is routed as a pulled one', async () => {
    const placed = await placeReferralOnEhr(ehr, 'sub-id-only', undefined, { postalCode: zip });
    const answer = await notify(
      bundleOf('event-notification', [placed.task], { payload: 'id-only' }),
    );
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      type: 'event-notification',
      taken: 1,
      missed: 0,
      pulled: false,
    });
    const [notified] = await carerelayTasksFor(placed.task.id as string);
    expect(notified).toMatchObject({
      status: 'requested',
      requester: { reference: `Organization/${HOSPITAL_ORG}` },
      owner: { reference: `Organization/${PLATFORM_ORG}` },
    });

    // The same kind of referral by the pull path: CareRelay holds the same thing.
    const other = await placeReferralOnEhr(ehr, 'sub-pulled', undefined, { postalCode: zip });
    const endpoint = (await connector.app.get(EhrEndpointRegistry).get(ENDPOINT))!;
    await connector.app.get(PullPoller).pollEndpoint(endpoint);
    const [pulled] = await carerelayTasksFor(other.task.id as string);
    expect(pulled).toBeDefined();
    expect(await shapeOf(notified)).toEqual(await shapeOf(pulled));
    // And referral-service routes both alike.
    const [routedNotified, routedPulled] = [await routingOf(notified), await routingOf(pulled)];
    expect(routedNotified.targetOrganizationId).toBe(pantry);
    expect(routedPulled.targetOrganizationId).toBe(pantry);
    expect(routedNotified.explanation.chosen.reasons).toEqual(
      routedPulled.explanation.chosen.reasons,
    );
    expect(await progress()).toMatchObject({ lastEventNumber: 1, notifications: 2, gaps: 0 });
  });

  it('a notification delivered twice (again, and twice at once) applies once', async () => {
    const placed = await placeReferralOnEhr(ehr, 'sub-duplicate');
    const bundle = bundleOf('event-notification', [placed.task]);
    const first = await notify(bundle);
    expect(first.body).toMatchObject({ taken: 1, alreadyApplied: 0 });
    const again = await notify(bundle);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ taken: 0, alreadyApplied: 1, missed: 0 });

    const next = await placeReferralOnEhr(ehr, 'sub-duplicate-2');
    const twice = bundleOf('event-notification', [next.task]);
    const answers = await Promise.all([notify(twice), notify(twice)]);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect(answers.map((a) => a.body.taken).sort()).toEqual([0, 1]);
    expect(await carerelayTasksFor(placed.task.id as string)).toHaveLength(1);
    expect(await carerelayTasksFor(next.task.id as string)).toHaveLength(1);
    expect(await progress()).toMatchObject({ lastEventNumber: eventCount, gaps: 0 });
  });

  it('a full-resource notification uses the Task it carries, only when it is that Task of that EHR', async () => {
    const placed = await placeReferralOnEhr(ehr, 'sub-full');
    const bundle = bundleOf('event-notification', [placed.task], { payload: 'full-resource' });
    expect((bundle.entry as Resource[])[1].resource.id).toBe(placed.task.id);
    const answer = await notify(bundle);
    expect(answer.body).toMatchObject({ taken: 1 });
    expect(await carerelayTasksFor(placed.task.id as string)).toHaveLength(1);

    // A focus on another server, and a carried Task that is not the focus: taken as nothing.
    const forged = await placeReferralOnEhr(ehr, 'sub-forged');
    const elsewhere = bundleOf('event-notification', [forged.task], { payload: 'full-resource' });
    const status = (elsewhere.entry as Resource[])[0].resource;
    const event = status.parameter.find((p: Resource) => p.name === 'notification-event');
    const focus = event.part.find((p: Resource) => p.name === 'focus');
    focus.valueReference.reference = `http://attacker.example/fhir/Task/${forged.task.id}`;
    (elsewhere.entry as Resource[])[1].fullUrl = focus.valueReference.reference;
    expect((await notify(elsewhere)).body).toMatchObject({ taken: 0, ignored: 1 });

    const swapped = bundleOf('event-notification', [forged.task], { payload: 'full-resource' });
    (swapped.entry as Resource[])[1].resource = { ...forged.task, id: placed.task.id };
    expect((await notify(swapped)).body).toMatchObject({ taken: 0, ignored: 1 });
    expect(await carerelayTasksFor(forged.task.id as string)).toHaveLength(0);
  });

  it('a later change the EHR notifies (the clinician cancels) is applied as the pull applies it, once', async () => {
    const placed = await placeReferralOnEhr(ehr, 'sub-cancel');
    expect((await notify(bundleOf('event-notification', [placed.task]))).body).toMatchObject({
      taken: 1,
    });
    const cancelled = await ehr.updateWithIfMatch('Task', placed.task.id as string, (t) => ({
      ...t,
      status: 'cancelled',
      statusReason: { text: 'patient declined the referral' },
    }));
    const change = bundleOf('event-notification', [cancelled]);
    expect((await notify(change)).body).toMatchObject({ changed: 1, taken: 0, missed: 0 });
    const [source] = await carerelayTasksFor(placed.task.id as string);
    expect(source).toMatchObject({
      status: 'cancelled',
      statusReason: { text: 'patient declined the referral' },
    });
    expect((await notify(change)).body).toMatchObject({ changed: 0, alreadyApplied: 1 });
  });

  it('a gap in the event numbers, or a heartbeat counting events that never came, runs a catch-up pull', async () => {
    const before = (await progress()) as Resource;
    const lost = await placeReferralOnEhr(ehr, 'sub-lost');
    const arrives = await placeReferralOnEhr(ehr, 'sub-after-gap');
    // Events for `lost` (and one more) never arrive; the next one names `arrives`.
    const skipped = bundleOf('event-notification', [arrives.task], { first: eventCount + 3 });
    const answer = await notify(skipped);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ missed: 2, pulled: true, taken: 0, alreadyApplied: 1 });
    // The pull took both in (then the event's own Task was already there).
    expect(await carerelayTasksFor(lost.task.id as string)).toHaveLength(1);
    expect(await carerelayTasksFor(arrives.task.id as string)).toHaveLength(1);
    expect(await progress()).toMatchObject({
      lastEventNumber: eventCount,
      gaps: before.gaps + 1,
      missedEvents: before.missedEvents + 2,
    });

    // The last event's notification is lost; the heartbeat says so.
    const silent = await placeReferralOnEhr(ehr, 'sub-silent');
    eventCount++;
    const heartbeat = await notify(bundleOf('heartbeat'));
    expect(heartbeat.body).toMatchObject({ type: 'heartbeat', missed: 1 });
    expect(await carerelayTasksFor(silent.task.id as string)).toHaveLength(1);
    expect(await progress()).toMatchObject({ lastEventNumber: eventCount, gaps: before.gaps + 2 });

    // An `empty` notification names no Task: a pull finds what changed (not a gap).
    const unnamed = await placeReferralOnEhr(ehr, 'sub-empty');
    const empty = await notify(
      bundleOf('event-notification', [unnamed.task], { payload: 'empty' }),
    );
    expect(empty.body).toMatchObject({ missed: 0, pulled: true });
    expect(await carerelayTasksFor(unnamed.task.id as string)).toHaveLength(1);
    expect(await progress()).toMatchObject({ lastEventNumber: eventCount, gaps: before.gaps + 2 });
  });
});
