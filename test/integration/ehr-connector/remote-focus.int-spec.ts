import type { INestApplication } from '@nestjs/common';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { EventTypes, TOPICS, type ConsentEventV1 } from '@carerelay/contracts';
import { FhirApiClient, FhirRequestError, SmartBackendTokenSource } from '@carerelay/fhir-client';
import { dropSchema } from '@carerelay/persistence';
import {
  collectTopics,
  testEnv,
  uniqueName,
  waitFor,
  type CollectedMessage,
} from '@carerelay/testing';
import { startTestFhirApi, type TestFhirApi } from '../../../apps/fhir-api/test/fhir-api.harness';
import { startTestReferralService } from '../referral-service.harness';
import { startEhrServer, type RunningEhrServer } from '../../../tools/ehr-server/src/ehr-server';
import { EHR_ENDPOINT_IDENTIFIER_SYSTEM } from '../../../apps/ehr-connector/src/registry/endpoint.publisher';
import { publishCbos, publishEvent } from '../directory.fixtures';
import {
  json,
  PLATFORM_ORG,
  placeReferralOnEhr,
  startTestConnector,
  type Resource,
  type TestConnector,
} from './ehr-connector.harness';
import taskFixture from '../../../apps/fhir-api/test/fixtures/Task-referral-requested.json';

/** The home postal code of the IG's example patient (the referral's EHR copy is built on it). */
const PATIENT_ZIP = '74048';

/**
 * An EHR posts only a Task to CareRelay, naming its ServiceRequest and Patient on its own FHIR
 * server (absolute URLs), as the SDOH Clinical Care IG lets it. On the real services — FHIR API,
 * referral-service, ehr-connector on real Kafka and PostgreSQL — and a stand-in EHR that answers
 * only with SMART Backend Services tokens of the client registered with the connector.
 */
describe('a Task posted alone whose focus is on the EHR: fetched with the endpoint credentials and routed', () => {
  jest.setTimeout(180_000);
  const hospital = uniqueName('hosp-remote').replace(/_/g, '-');
  const otherHospital = uniqueName('hosp-other').replace(/_/g, '-');
  const pantry = uniqueName('cbo-remote').replace(/_/g, '-');
  const referralSchema = uniqueName('referral_remote').toLowerCase();
  const endpointId = uniqueName('remote-ehr').replace(/_/g, '-').toLowerCase();
  const clientId = 'carerelay-connector';

  let api: TestFhirApi;
  let referralService: INestApplication;
  let connector: TestConnector;
  let ehrServer: RunningEhrServer;
  /** The EHR's own FHIR API with the registered client's tokens (as the hospital writes it). */
  let ehr: FhirApiClient;
  let platform: FhirApiClient;
  let asHospital: FhirApiClient;
  let events: { messages: CollectedMessage[]; stop: () => Promise<void> };

  beforeAll(async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES384', { extractable: true });
    const privateJwk: JWK = { ...(await exportJWK(privateKey)), kid: 'remote-1', alg: 'ES384' };
    const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid: 'remote-1', alg: 'ES384' };
    api = await startTestFhirApi();
    referralService = await startTestReferralService({
      fhirBaseUrl: api.baseUrl,
      platformOrganizationId: PLATFORM_ORG,
      schema: referralSchema,
      groupId: uniqueName('referral-service-remote'),
      fhirClient: new FhirApiClient(api.baseUrl, undefined, {
        customHeaders: { 'X-Dev-Actor': `platform:${PLATFORM_ORG}` },
      }),
    });
    events = await collectTopics([TOPICS.referralEvents.name]);
    ehrServer = await startEhrServer({ port: 0, auth: { clientId, publicJwk } });
    connector = await startTestConnector(api.baseUrl, {
      REMOTE_FETCH_POLL_MS: '100',
      REMOTE_FETCH_INITIAL_BACKOFF_MS: '100',
      REMOTE_FETCH_MAX_BACKOFF_MS: '400',
      REMOTE_FETCH_MAX_ATTEMPTS: '3',
    });
    ehr = new FhirApiClient(
      ehrServer.baseUrl,
      new SmartBackendTokenSource({
        tokenUrl: ehrServer.tokenUrl,
        clientId,
        privateJwk,
        alg: 'ES384',
        scope: 'system/*.cruds',
      }),
    );
    platform = new FhirApiClient(api.baseUrl, undefined, {
      customHeaders: { 'X-Dev-Actor': `platform:${PLATFORM_ORG}` },
    });
    asHospital = new FhirApiClient(api.baseUrl, undefined, {
      customHeaders: { 'X-Dev-Actor': `ehr:${hospital}` },
    });
    const put = await json(`${connector.url}/ehr-endpoints/${endpointId}`, 'PUT', {
      organizationId: hospital,
      baseUrl: ehrServer.baseUrl,
      auth: 'smart-backend',
      clientId,
      tokenUrl: ehrServer.tokenUrl,
      privateJwk,
      modes: ['push'],
    });
    expect(put.status).toBe(200);
    await publishCbos(PATIENT_ZIP, [
      { id: pantry, name: 'Remote Focus Pantry', categories: ['food-insecurity'] },
    ]);
    // The registration reaches the FHIR API as an Endpoint of the hospital.
    await waitFor(
      async () =>
        (
          await platform.search('Endpoint', {
            identifier: `${EHR_ENDPOINT_IDENTIFIER_SYSTEM}|${endpointId}`,
          })
        ).entry?.[0],
      { what: 'the Endpoint published', timeoutMs: 30_000 },
    );
  });

  afterAll(async () => {
    await events?.stop();
    await connector?.close();
    await referralService?.close();
    await ehrServer?.close();
    await api?.close();
    await dropSchema(testEnv().DATABASE_URL, referralSchema);
  });

  const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

  /** The Task an EHR posts alone: focus and for name its own server. */
  const remoteTask = (focus: string, patient: string, tag: string) => ({
    ...(clone(taskFixture) as Resource),
    resourceType: 'Task',
    identifier: [{ system: 'http://hospital.example/referrals', value: tag }],
    focus: { reference: focus },
    for: { reference: patient, display: 'COLIN ABBAS' },
    requester: { reference: `Organization/${hospital}` },
    owner: { reference: `Organization/${PLATFORM_ORG}` },
  });

  const referralEvent = (referralId: string, state: string) =>
    waitFor(
      () =>
        events.messages
          .map((m) => (m.key === referralId ? JSON.parse(m.value!) : undefined))
          .find((e) => e?.state === state),
      { what: `referral ${referralId} ${state}`, timeoutMs: 60_000 },
    );

  const tasksTagged = async (tag: string) =>
    (await platform.search('Task', { identifier: `http://hospital.example/referrals|${tag}` }))
      .entry ?? [];

  it('the stand-in EHR answers only with a token of the registered client', async () => {
    const anonymous = await fetch(`${ehrServer.baseUrl}/Patient`);
    expect(anonymous.status).toBe(401);
  });

  it('fetches the ServiceRequest, Patient and Consent from the EHR with the endpoint credentials, and routes the referral to a CBO', async () => {
    const tag = uniqueName('remote');
    const onEhr = await placeReferralOnEhr(ehr, tag, `Organization/${PLATFORM_ORG}`, {
      postalCode: PATIENT_ZIP,
    });
    const focus = `${ehrServer.baseUrl}/ServiceRequest/${onEhr.serviceRequest.id}`;
    const patient = `${ehrServer.baseUrl}/Patient/${onEhr.patient.id}`;
    const before = ehrServer.requests.length;

    const posted: Resource = await asHospital.create(remoteTask(focus, patient, tag));
    expect(posted.focus.reference).toBe(focus);

    // The connector points CareRelay's Task at its copies, keeping the originals as identifiers.
    const localized = await waitFor(
      async () => {
        const task = await platform.read('Task', posted.id as string);
        return String(task.focus?.reference).startsWith('ServiceRequest/') ? task : undefined;
      },
      { what: 'the Task pointing at the local ServiceRequest', timeoutMs: 60_000 },
    );
    expect(localized.focus.identifier).toMatchObject({
      system: `${ehrServer.baseUrl}/ServiceRequest`,
      value: onEhr.serviceRequest.id,
    });
    expect(localized.for.reference).toMatch(/^Patient\//);
    expect(localized.for.identifier).toMatchObject({
      system: `${ehrServer.baseUrl}/Patient`,
      value: onEhr.patient.id,
    });
    expect(localized.status).toBe('requested');
    const serviceRequest = await platform.read(
      'ServiceRequest',
      localized.focus.reference.split('/')[1],
    );
    expect(serviceRequest.code).toEqual(onEhr.serviceRequest.code);
    expect(serviceRequest.subject.reference).toBe(localized.for.reference);
    const consents = await platform.search('Consent', {
      identifier: `${ehrServer.baseUrl}/Consent|${onEhr.consent.id}`,
    });
    expect(consents.entry).toHaveLength(1);

    // Every read the connector made of the EHR carried a token of the registered client.
    const reads = ehrServer.requests.slice(before);
    expect(reads).toEqual(
      expect.arrayContaining([
        {
          method: 'GET',
          path: `/fhir/ServiceRequest/${onEhr.serviceRequest.id}`,
          authorized: true,
        },
        { method: 'GET', path: `/fhir/Patient/${onEhr.patient.id}`, authorized: true },
      ]),
    );
    expect(reads.filter((r) => !r.authorized)).toEqual([]);

    // From here on, a referral as any other: consent given, routed to the CBO.
    await publishEvent(EventTypes.consentGranted, {
      consentId: uniqueName('consent'),
      patientId: localized.for.reference.split('/')[1],
      organizationId: null,
      occurredAt: new Date().toISOString(),
      securityLabels: [],
    } satisfies ConsentEventV1);
    const routed = await referralEvent(posted.id as string, 'routed');
    expect(routed.targetOrganizationId).toBe(pantry);
    const cboTask = await platform.read('Task', routed.cboTaskId);
    expect(cboTask.partOf?.[0]?.reference).toBe(`Task/${posted.id}`);
  });

  it('refuses a Task naming a server that is no registered EHR endpoint of the poster (422, nothing written)', async () => {
    const unknown = uniqueName('unknown');
    const error = await asHospital
      .create(
        remoteTask(
          'https://unknown-ehr.example.org/fhir/ServiceRequest/1',
          'https://unknown-ehr.example.org/fhir/Patient/9',
          unknown,
        ),
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FhirRequestError);
    expect((error as FhirRequestError).status).toBe(422);
    const outcome = (error as FhirRequestError).outcome as Resource;
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue[0].expression).toEqual(['Task.focus']);
    expect(await tasksTagged(unknown)).toEqual([]);

    // The registered EHR's base is the hospital's own: another organization may not name it.
    const other = uniqueName('other');
    const asOther = new FhirApiClient(api.baseUrl, undefined, {
      customHeaders: { 'X-Dev-Actor': `ehr:${otherHospital}` },
    });
    const foreign = await asOther
      .create({
        ...remoteTask(
          `${ehrServer.baseUrl}/ServiceRequest/1`,
          `${ehrServer.baseUrl}/Patient/9`,
          other,
        ),
        requester: { reference: `Organization/${otherHospital}` },
      })
      .catch((e: unknown) => e);
    expect((foreign as FhirRequestError).status).toBe(422);
    expect(await tasksTagged(other)).toEqual([]);
  });

  it('retries an EHR that is down until it is back; gives up on a ServiceRequest the EHR does not have and rejects the Task, copying nothing', async () => {
    const tag = uniqueName('outage');
    const onEhr = await placeReferralOnEhr(ehr, tag, `Organization/${PLATFORM_ORG}`, {
      postalCode: PATIENT_ZIP,
    });
    await ehrServer.stop();
    let posted: Resource = {};
    try {
      posted = await asHospital.create(
        remoteTask(
          `${ehrServer.baseUrl}/ServiceRequest/${onEhr.serviceRequest.id}`,
          `${ehrServer.baseUrl}/Patient/${onEhr.patient.id}`,
          tag,
        ),
      );
      const retried = await waitFor(
        async () => {
          const rows = (await json(`${connector.url}/remote-referrals?state=pending`)).body as
            Resource[] | undefined;
          return rows?.find((r) => r.taskId === posted.id && r.attempts >= 2);
        },
        { what: 'the fetch retried while the EHR is down', timeoutMs: 30_000 },
      );
      expect(retried.lastError).toBe('FHIR request failed: server unreachable');
      expect((await platform.read('Task', posted.id as string)).focus.reference).toMatch(/^http/);
    } finally {
      await ehrServer.start();
    }
    await waitFor(
      async () =>
        String((await platform.read('Task', posted.id as string)).focus?.reference).startsWith(
          'ServiceRequest/',
        ),
      { what: 'the Task made routable once the EHR is back', timeoutMs: 60_000 },
    );

    const missing = uniqueName('missing');
    const gone: Resource = await asHospital.create(
      remoteTask(
        `${ehrServer.baseUrl}/ServiceRequest/does-not-exist`,
        `${ehrServer.baseUrl}/Patient/${onEhr.patient.id}`,
        missing,
      ),
    );
    const rejected = await waitFor(
      async () => {
        const task = await platform.read('Task', gone.id as string);
        return task.status === 'rejected' ? task : undefined;
      },
      { what: 'the Task rejected', timeoutMs: 60_000 },
    );
    expect(rejected.statusReason.text).toBe(
      "CareRelay could not fetch the referral's resources from the EHR: FHIR request failed: HTTP 404",
    );
    expect(rejected.focus.reference).toBe(`${ehrServer.baseUrl}/ServiceRequest/does-not-exist`);
    const copies = await platform.search('ServiceRequest', {
      identifier: `${ehrServer.baseUrl}/ServiceRequest|does-not-exist`,
    });
    expect(copies.entry ?? []).toEqual([]);
    const given = (await json(`${connector.url}/remote-referrals?state=given-up`))
      .body as Resource[];
    expect(given.find((r) => r.taskId === gone.id)).toMatchObject({ attempts: 3 });
  });
});
