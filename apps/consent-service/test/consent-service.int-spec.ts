import { INestApplication } from '@nestjs/common';
import type { Consent } from '@medplum/fhirtypes';
import { DataSource } from 'typeorm';
import { loadConfig } from '@carerelay/config';
import {
  EventTypes,
  TOPICS,
  newCloudEvent,
  toKafkaRecord,
  type ReferralState,
} from '@carerelay/contracts';
import { dropSchema } from '@carerelay/persistence';
import {
  CollectedMessage,
  collectTopics,
  testEnv,
  testKafka,
  referralEventRecord,
  startGroupAtLatest,
  uniqueName,
  waitFor,
  useTestTokens,
} from '@carerelay/testing';
import { Producer } from 'kafkajs';
import { startConsentService } from '../src/bootstrap';
import { ConsentServiceConfig } from '../src/consent-service.config';

// The service's API takes the platform's token: these tests sign their own (useTestTokens).
const tokens = useTestTokens();

const fhirId = (prefix: string) => uniqueName(prefix).replace(/_/g, '-');
const IRCP = {
  coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }],
};
const PART2 = { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: '42CFRPart2' };
const RESTRICTED = {
  system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality',
  code: 'R',
};

/** An SDOHCC Consent like the IG example (no provision: the whole network). */
const sdohConsent = (id: string, patientId: string, extra: Partial<Consent> = {}): Consent => ({
  resourceType: 'Consent',
  id,
  status: 'active',
  scope: {
    coding: [
      { system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' },
    ],
  },
  category: [
    { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IDSCL' }] },
  ],
  patient: { reference: `Patient/${patientId}` },
  dateTime: '2025-05-01',
  organization: [{ reference: 'Organization/hospital-a' }],
  sourceAttachment: { contentType: 'application/pdf', title: 'signed form' },
  ...extra,
});

describe('consent-service on real Kafka and PostgreSQL', () => {
  jest.setTimeout(120_000);
  const schema = uniqueName('consent_it').toLowerCase();
  let app: INestApplication;
  let dataSource: DataSource;
  let url: string;
  let producer: Producer;
  let events: { messages: CollectedMessage[]; stop: () => Promise<void> };

  const groupId = uniqueName('consent-service-it');
  const start = () =>
    startConsentService(
      loadConfig(ConsentServiceConfig, {
        ...testEnv(),
        OUTBOX_POLL_MS: '50',
        CONSENT_TIMER_POLL_MS: '100',
      }),
      { schema, groupId, port: 0 },
    );
  let second: INestApplication | undefined;

  beforeAll(async () => {
    // Only this run's events: a new group would otherwise replay every earlier run's changes.
    await startGroupAtLatest(groupId, [TOPICS.fhirChanges.name, TOPICS.referralEvents.name]);
    app = await start();
    dataSource = app.get(DataSource);
    url = await app.getUrl();
    events = await collectTopics([TOPICS.consentEvents.name]);
    producer = testKafka().producer();
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    await events?.stop();
    await second?.close();
    await app?.close();
    await dropSchema(testEnv().DATABASE_URL, schema);
  });

  const publishConsent = async (
    consent: Consent,
    versionId: string,
    action: 'create' | 'update' | 'delete' = versionId === '1' ? 'create' : 'update',
    times = 1,
  ) => {
    const lastUpdated = new Date().toISOString();
    const change = newCloudEvent({
      source: '/carerelay/fhir-api',
      type: EventTypes.fhirResourceChanged.type,
      subject: `Consent/${consent.id}`,
      data: {
        resourceType: 'Consent',
        id: consent.id!,
        versionId,
        action,
        lastUpdated,
        organizations: ['hospital-a'],
        ...(action === 'delete'
          ? {}
          : { resource: { ...consent, meta: { ...consent.meta, versionId, lastUpdated } } }),
      },
    });
    const record = toKafkaRecord(change, `Consent/${consent.id}`);
    await producer.send({
      topic: TOPICS.fhirChanges.name,
      messages: Array.from({ length: times }, () => record),
    });
    return change.id;
  };

  /** Waits until the service has consumed (and committed the effect of) one event. */
  const consumed = (eventId: string) =>
    waitFor(
      async () =>
        (await dataSource.query(`SELECT 1 FROM "${schema}".inbox WHERE event_id = $1`, [eventId]))
          .length > 0,
      { what: `event ${eventId} consumed`, timeoutMs: 30_000 },
    );

  const consentEvents = (patientId: string) =>
    events.messages
      .filter((m) => m.key === patientId)
      .map((m) => ({ type: m.headers.ce_type, data: JSON.parse(m.value!), headers: m.headers }));

  const waitForEvents = (patientId: string, count: number, what: string) =>
    waitFor(() => consentEvents(patientId).length >= count && consentEvents(patientId), {
      what,
      timeoutMs: 30_000,
    });

  interface DecisionBody {
    allowed: boolean;
    consentId: string | null;
    code: string;
    reason: string;
    fields: string[];
    organizationId?: string;
  }

  const decision = async (params: Record<string, string>) => {
    const response = await tokens.issuer.fetch(
      `${url}/consents/decision?${new URLSearchParams(params)}`,
    );
    return { status: response.status, body: (await response.json()) as DecisionBody };
  };

  const quiet = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  const storedVersion = async (consentId: string) =>
    (
      await dataSource.query(
        `SELECT version_id FROM "${schema}".consent_record WHERE consent_id = $1`,
        [consentId],
      )
    )[0]?.version_id;

  it('a Consent create yields exactly one consent.granted keyed by patient id', async () => {
    const patient = fhirId('pat');
    const consent = sdohConsent(fhirId('consent'), patient);
    await publishConsent(consent, '1', 'create', 2); // redelivered, as the relay may do

    const [granted] = await waitForEvents(patient, 1, 'consent.granted');
    expect(granted.type).toBe(EventTypes.consentGranted.type);
    expect(granted.headers.ce_subject).toBe(patient);
    expect(granted.data).toEqual({
      consentId: consent.id,
      patientId: patient,
      organizationId: null,
      occurredAt: expect.any(String),
      securityLabels: [],
    });
    expect((await decision({ patient, organization: 'cbo-food' })).body).toMatchObject({
      allowed: true,
      consentId: consent.id,
    });
    await quiet(1500);
    expect(consentEvents(patient)).toHaveLength(1);
  });

  it('an update to inactive yields consent.revoked; a late older version changes nothing', async () => {
    const patient = fhirId('pat');
    const consent = sdohConsent(fhirId('consent'), patient, {
      provision: {
        type: 'permit',
        actor: [{ role: IRCP, reference: { reference: 'Organization/cbo-food' } }],
      },
    });
    await publishConsent(consent, '1');
    await waitForEvents(patient, 1, 'consent.granted');

    await publishConsent({ ...consent, status: 'inactive' }, '2');
    const [, revoked] = await waitForEvents(patient, 2, 'consent.revoked');
    expect(revoked.type).toBe(EventTypes.consentRevoked.type);
    expect(revoked.data).toMatchObject({
      consentId: consent.id,
      patientId: patient,
      organizationId: 'cbo-food',
    });
    expect((await decision({ patient, organization: 'cbo-food' })).body).toMatchObject({
      allowed: false,
      code: 'not-in-force',
    });

    // version 1 again, late: it must not bring the permit back
    await consumed(await publishConsent(consent, '1'));
    await quiet(1500);
    expect(consentEvents(patient)).toHaveLength(2);
    expect(await storedVersion(consent.id!)).toBe('2');
    expect((await decision({ patient, organization: 'cbo-food' })).body.allowed).toBe(false);
  });

  it('a deny revokes for its recipient, lifting it grants again; a deletion revokes', async () => {
    const patient = fhirId('pat');
    const permit = sdohConsent(fhirId('consent'), patient);
    const deny = sdohConsent(fhirId('deny'), patient, {
      provision: {
        type: 'deny',
        actor: [{ role: IRCP, reference: { reference: 'Organization/cbo-x' } }],
      },
    });
    await publishConsent(permit, '1');
    await waitForEvents(patient, 1, 'granted');
    await publishConsent(deny, '1');
    const [, denied] = await waitForEvents(patient, 2, 'revoked by the deny');
    expect(denied).toMatchObject({
      type: EventTypes.consentRevoked.type,
      data: { consentId: deny.id, organizationId: 'cbo-x' },
    });
    expect((await decision({ patient, organization: 'cbo-x' })).body).toMatchObject({
      allowed: false,
      consentId: deny.id,
      code: 'denied',
    });
    expect((await decision({ patient, organization: 'cbo-y' })).body.allowed).toBe(true);

    await publishConsent({ ...deny, status: 'entered-in-error' }, '2');
    // the network-wide permit covers cbo-x again: it is announced once more
    const [, , regranted] = await waitForEvents(patient, 3, 'the permit granted again');
    expect(regranted).toMatchObject({
      type: EventTypes.consentGranted.type,
      data: { consentId: permit.id, organizationId: null },
    });
    expect((await decision({ patient, organization: 'cbo-x' })).body.allowed).toBe(true);

    await publishConsent(permit, '2', 'delete');
    const [, , , deleted] = await waitForEvents(patient, 4, 'revoked by deletion');
    expect(deleted).toMatchObject({
      type: EventTypes.consentRevoked.type,
      data: { consentId: permit.id, organizationId: null },
    });
    expect((await decision({ patient, organization: 'cbo-y' })).body.allowed).toBe(false);
    // a late create of the deleted consent does not bring it back
    await consumed(await publishConsent(permit, '1'));
    await quiet(1000);
    expect(consentEvents(patient)).toHaveLength(4);
  });

  it('a period cut short into the past revokes (it is not an expiry)', async () => {
    const patient = fhirId('pat');
    const consent = sdohConsent(fhirId('consent'), patient, {
      provision: { type: 'permit', period: { start: '2025-01-01', end: '2099-12-31' } },
    });
    await publishConsent(consent, '1');
    await waitForEvents(patient, 1, 'granted');
    await publishConsent(
      {
        ...consent,
        provision: { type: 'permit', period: { start: '2025-01-01', end: '2025-02-01' } },
      },
      '2',
    );
    const [, revoked] = await waitForEvents(patient, 2, 'revoked');
    expect(revoked.type).toBe(EventTypes.consentRevoked.type);
    expect(revoked.data.periodEnd).toBe('2100-01-01T00:00:00.000Z'); // the period that was granted
  });

  it('a consent whose period ends in 2 s yields exactly one consent.expired', async () => {
    const patient = fhirId('pat');
    const end = new Date(Date.now() + 2000);
    const consent = sdohConsent(fhirId('consent'), patient, {
      provision: { type: 'permit', period: { end: end.toISOString() } },
    });
    await publishConsent(consent, '1');
    const [granted] = await waitForEvents(patient, 1, 'consent.granted');
    const periodEnd = new Date(end.getTime() + 1).toISOString(); // ms precision: end inclusive
    expect(granted.data).toMatchObject({ consentId: consent.id, periodEnd });
    expect((await decision({ patient, organization: 'cbo-food' })).body.allowed).toBe(true);

    const [, expired] = await waitForEvents(patient, 2, 'consent.expired');
    expect(expired.type).toBe(EventTypes.consentExpired.type);
    expect(expired.data).toMatchObject({
      consentId: consent.id,
      patientId: patient,
      organizationId: null,
      occurredAt: periodEnd,
      periodEnd,
    });
    expect((await decision({ patient, organization: 'cbo-food' })).body).toMatchObject({
      allowed: false,
      code: 'not-in-force',
      reason: expect.stringContaining('expired'),
    });
    await quiet(1500);
    expect(consentEvents(patient).map((e) => e.type)).toEqual([
      EventTypes.consentGranted.type,
      EventTypes.consentExpired.type,
    ]);
    const timers = await dataSource.query(
      `SELECT count(*)::int AS n FROM "${schema}".consent_timer WHERE patient_id = $1`,
      [patient],
    );
    expect(timers[0].n).toBe(0);
  });

  it('a consent starting in the future is granted when its period starts', async () => {
    const patient = fhirId('pat');
    const start = new Date(Date.now() + 1500);
    const consent = sdohConsent(fhirId('consent'), patient, {
      provision: { type: 'permit', period: { start: start.toISOString() } },
    });
    await publishConsent(consent, '1');
    await quiet(500);
    expect(consentEvents(patient)).toHaveLength(0);
    const [granted] = await waitForEvents(patient, 1, 'consent.granted at the start');
    expect(granted.data).toMatchObject({ consentId: consent.id, periodStart: start.toISOString() });
    expect(Date.parse(granted.data.occurredAt)).toBeGreaterThanOrEqual(start.getTime());
  });

  it('answers 42 CFR Part 2 decisions: a network-wide consent is not enough', async () => {
    const patient = fhirId('pat');
    const network = sdohConsent(fhirId('network'), patient, {
      meta: { security: [PART2] },
    });
    await publishConsent(network, '1');
    await waitForEvents(patient, 1, 'granted');
    expect(
      (await decision({ patient, organization: 'cbo-sud', labels: '42CFRPart2,R' })).body,
    ).toMatchObject({ allowed: false, code: 'part2-needs-named-recipient', consentId: null });

    const named = sdohConsent(fhirId('named'), patient, {
      provision: {
        type: 'permit',
        actor: [{ role: IRCP, reference: { reference: 'Organization/cbo-sud' } }],
        // Restricted (R) data, like Part 2 data, needs a consent that covers it.
        securityLabel: [PART2, RESTRICTED],
      },
    });
    await publishConsent(named, '1');
    await waitForEvents(patient, 2, 'granted to cbo-sud');
    expect(
      (await decision({ patient, organization: 'cbo-sud', labels: '42CFRPart2,R' })).body,
    ).toMatchObject({ allowed: true, consentId: named.id, code: 'permitted' });
    expect(
      (await decision({ patient, organization: 'cbo-other', labels: '42CFRPart2' })).body.allowed,
    ).toBe(false);

    const listed = (await (
      await tokens.issuer.fetch(`${url}/patients/${patient}/consents`)
    ).json()) as {
      consents: Array<{ consentId: string }>;
      announced: unknown[];
    };
    expect(listed.consents.map((c: { consentId: string }) => c.consentId).sort()).toEqual(
      [named.id, network.id].sort(),
    );
    expect(listed.announced).toHaveLength(2);
  });

  it('keeps the organization each referral was routed to and decides by referral', async () => {
    const patient = fhirId('pat');
    const referralId = fhirId('task');
    const consent = sdohConsent(fhirId('consent'), patient, {
      provision: {
        type: 'permit',
        actor: [{ role: IRCP, reference: { reference: 'Organization/cbo-route' } }],
      },
    });
    await publishConsent(consent, '1');
    await waitForEvents(patient, 1, 'granted');
    // As the referral-service announces them: every event names the current patient and target.
    const announce = (...steps: Array<[ReferralState, string]>) =>
      producer.send({
        topic: TOPICS.referralEvents.name,
        messages: steps.map(([state, organization]) =>
          referralEventRecord(referralId, state, {
            patientId: patient,
            targetOrganizationId: organization,
          }),
        ),
      });
    const decidedFor = (organization: string) =>
      waitFor(
        async () => {
          const response = await decision({ referral: referralId });
          return (
            response.status === 200 && response.body.organizationId === organization && response
          );
        },
        { what: `the referral routed to ${organization}`, timeoutMs: 30_000 },
      );
    await announce(['routed', 'cbo-route'], ['accepted', 'cbo-route']);
    expect((await decidedFor('cbo-route')).body).toMatchObject({
      allowed: true,
      consentId: consent.id,
      patientId: patient,
      organizationId: 'cbo-route',
    });
    // Turned away and routed elsewhere: the decision is now for the new CBO, which this consent
    // does not name.
    await announce(
      ['rejected', 'cbo-route'],
      ['rerouted', 'cbo-route-2'],
      ['routed', 'cbo-route-2'],
      ['accepted', 'cbo-route-2'],
    );
    expect((await decidedFor('cbo-route-2')).body).toMatchObject({
      allowed: false,
      patientId: patient,
      organizationId: 'cbo-route-2',
    });
    expect((await decision({ referral: fhirId('unknown') })).status).toBe(404);
  });

  it('rejects bad query parameters with 400 naming each field', async () => {
    const missing = await decision({ organization: 'cbo-food' });
    expect(missing.status).toBe(400);
    expect(missing.body.fields).toEqual(['patient']);
    const bad = await decision({
      patient: 'p 1',
      organization: 'cbo',
      labels: 'ok,b@d',
      at: 'soon',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.fields.sort()).toEqual(['at', 'labels', 'patient']);
    const unknown = await decision({ patient: 'p1', organization: 'o1', color: 'red' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.fields).toEqual(['color']);
    const badId = await tokens.issuer.fetch(`${url}/patients/${'x'.repeat(65)}/consents`);
    expect(badId.status).toBe(400);
    expect(((await badId.json()) as DecisionBody).fields).toEqual(['id']);
    expect((await decision({ patient: 'nobody', organization: 'o1' })).body).toMatchObject({
      allowed: false,
      consentId: null,
      code: 'no-consent',
    });
  });

  it('answers its health and metrics endpoints', async () => {
    const ready = await fetch(`${url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'ok',
      info: { postgresql: { status: 'up' }, kafka: { status: 'up' } },
    });
    expect((await fetch(`${url}/health/live`)).status).toBe(200);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/carerelay_outbox_backlog\{schema="[^"]+"\} \d+/);
    expect(metrics).toMatch(/carerelay_consent_events_total\{type="granted"\} \d+/);
  });

  it('the expiry timer survives a restart and fires once with two instances running', async () => {
    const patient = fhirId('pat');
    const end = new Date(Date.now() + 3000);
    const consent = sdohConsent(fhirId('consent'), patient, {
      provision: { type: 'permit', period: { end: end.toISOString() } },
    });
    await publishConsent(consent, '1');
    await waitForEvents(patient, 1, 'consent.granted');
    await app.close();
    // the period ends while no instance runs
    await quiet(Math.max(0, end.getTime() + 500 - Date.now()));
    app = await start();
    second = await start();
    dataSource = app.get(DataSource);
    url = await app.getUrl();
    const [, expired] = await waitForEvents(patient, 2, 'consent.expired after the restart');
    expect(expired.type).toBe(EventTypes.consentExpired.type);
    await quiet(2000);
    expect(consentEvents(patient).map((e) => e.type)).toEqual([
      EventTypes.consentGranted.type,
      EventTypes.consentExpired.type,
    ]);
  });
});
