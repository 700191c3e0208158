import { generateKeyPairSync } from 'node:crypto';
import { DataSource } from 'typeorm';
import { FhirApiClient } from '@carerelay/fhir-client';
import { waitFor } from '@carerelay/testing';
import { startTestFhirApi, type TestFhirApi } from '../../../apps/fhir-api/test/fhir-api.harness';
import { startEhrServer, type RunningEhrServer } from '../../../tools/ehr-server/src/ehr-server';
import { PullPoller } from '../../../apps/ehr-connector/src/pull/pull.poller';
import { EhrEndpointRegistry } from '../../../apps/ehr-connector/src/registry/ehr-endpoint.registry';
import { CARERELAY_VERSION_EXTENSION } from '../../../apps/ehr-connector/src/fhir/ehr-identity';
import {
  json,
  PLATFORM_ORG,
  placeReferralOnEhr,
  startTestConnector,
  type Resource,
  type TestConnector,
} from './ehr-connector.harness';

const HOSPITAL_ORG = 'general-hospital-org';

describe('ehr-connector: pull intake and push back (real Kafka, PostgreSQL, Medplum EHR server)', () => {
  jest.setTimeout(120_000);
  let api: TestFhirApi;
  let ehrServer: RunningEhrServer;
  let connector: TestConnector;
  let ehr: FhirApiClient;
  let platform: FhirApiClient;

  beforeAll(async () => {
    api = await startTestFhirApi();
    ehrServer = await startEhrServer({ port: 0 });
    connector = await startTestConnector(api.baseUrl);
    ehr = new FhirApiClient(ehrServer.baseUrl);
    platform = new FhirApiClient(api.baseUrl, undefined, {
      customHeaders: { 'X-Dev-Actor': `platform:${PLATFORM_ORG}` },
    });
    const put = await json(`${connector.url}/ehr-endpoints/general-hospital`, 'PUT', {
      organizationId: HOSPITAL_ORG,
      baseUrl: ehrServer.baseUrl,
      auth: 'none',
      modes: ['pull', 'push'],
      pollIntervalSeconds: 1,
    });
    expect(put.status).toBe(200);
  });
  afterAll(async () => {
    await connector?.close();
    await ehrServer?.close();
    await api?.close();
  });

  it('refuses an invalid endpoint with the reasons', async () => {
    const bad = await json(`${connector.url}/ehr-endpoints/bad`, 'PUT', {
      organizationId: 'x',
      baseUrl: 'not a url',
      auth: 'smart-backend',
      modes: ['push', 'fax'],
    });
    expect(bad.status).toBe(400);
    const text = JSON.stringify(bad.body);
    expect(text).toMatch(/baseUrl/);
    expect(text).toMatch(/mode/);
    expect(text).toMatch(/clientId/);
  });

  it('takes registrations from the platform only, keeps a private key encrypted and never answers it', async () => {
    const body = (extra: Record<string, unknown> = {}) => ({
      organizationId: 'hosp-smart',
      baseUrl: 'http://127.0.0.1:9/smart/fhir',
      auth: 'smart-backend',
      clientId: 'carerelay',
      tokenUrl: 'http://127.0.0.1:9/smart/token',
      modes: ['push'],
      enabled: false,
      ...extra,
    });
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const privateJwk = { ...privateKey.export({ format: 'jwk' }), kid: 'k1' };
    const url = `${connector.url}/ehr-endpoints/smart-hospital`;

    expect((await json(url, 'PUT', body({ privateJwk }), {})).status).toBe(401);
    const cbo = await connector.tokens.headers('cbo', 'cbo-1');
    expect((await json(url, 'PUT', body({ privateJwk }), cbo)).status).toBe(403);
    const fromFile = await json(url, 'PUT', body({ privateJwkFile: '/etc/passwd' }));
    expect(fromFile.status).toBe(400);
    expect(JSON.stringify(fromFile.body)).toMatch(/privateJwkFile is not accepted/);
    const elsewhere = await json(
      url,
      'PUT',
      body({ privateJwk, tokenUrl: 'http://127.0.0.2:9/t' }),
    );
    expect(elsewhere.status).toBe(400);
    expect((await json(url)).status).toBe(404);

    const put = await json(url, 'PUT', body({ privateJwk }));
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ id: 'smart-hospital', hasCredentials: true });
    const answered = JSON.stringify([
      put.body,
      (await json(url)).body,
      (await json(`${connector.url}/ehr-endpoints`)).body,
    ]);
    expect(answered).not.toContain(privateJwk.d as string);
    const [stored] = (await connector.app
      .get(DataSource)
      .query(
        `SELECT private_jwk_ciphertext FROM "${connector.schema}".ehr_endpoint_credentials WHERE endpoint_id = 'smart-hospital'`,
      )) as { private_jwk_ciphertext: string }[];
    expect(stored.private_jwk_ciphertext).toMatch(/^v1\./);
    expect(stored.private_jwk_ciphertext).not.toContain(privateJwk.d as string);
  });

  /**
   * Every version of the EHR Task, oldest first, by lastUpdated: MemoryRepository's history
   * order flips from one call to the next (it reverses its own array in place) and its
   * versionIds are UUIDs.
   */
  async function ehrTaskHistory(id: string): Promise<Resource[]> {
    const history = await (await ehr.raw()).history({ resourceType: 'Task', id });
    return ((history as Resource).entry as Array<{ resource: Resource }>)
      .map((e) => e.resource)
      .sort((a, b) => Date.parse(a.meta!.lastUpdated!) - Date.parse(b.meta!.lastUpdated!));
  }
  const ehrStatusHistory = async (id: string) =>
    (await ehrTaskHistory(id)).map((t) => t.status as string);

  async function carerelayTaskFor(ehrTaskId: string): Promise<Resource[]> {
    const found = await platform.search('Task', {
      identifier: `${ehrServer.baseUrl}/Task|${ehrTaskId}`,
    });
    return (found.entry ?? []).map((e) => e.resource as Resource);
  }

  async function setStatus(id: string, status: string, extra: Partial<Resource> = {}) {
    return platform.updateWithIfMatch('Task', id, (task) => ({ ...task, status, ...extra }));
  }

  it('pulls a Task placed on the EHR exactly once, even when polled twice, then pushes its outcome back', async () => {
    const placed = await placeReferralOnEhr(ehr, 'pull-1');
    const pulled = await waitFor(
      async () => {
        const tasks = await carerelayTaskFor(placed.task.id as string);
        return tasks.length > 0 && tasks;
      },
      { what: 'the Task pulled into CareRelay', timeoutMs: 60_000 },
    );
    // Poll twice more, right now, beside the background poller.
    const poller = connector.app.get(PullPoller);
    const registry = connector.app.get(EhrEndpointRegistry);
    const endpoint = (await registry.get('general-hospital'))!;
    await Promise.all([poller.pollEndpoint(endpoint), poller.pollEndpoint(endpoint)]);
    expect(await carerelayTaskFor(placed.task.id as string)).toHaveLength(1);
    expect((await registry.get('general-hospital'))!.pullWatermark).toBe(
      placed.task.meta!.lastUpdated,
    );

    const task = pulled[0];
    expect(task).toMatchObject({
      status: 'requested',
      requester: { reference: `Organization/${HOSPITAL_ORG}` },
      owner: { reference: `Organization/${PLATFORM_ORG}` },
    });
    // Its ServiceRequest, Patient and Consent came along, each once, linked locally.
    const sr = await platform.read('ServiceRequest', task.focus.reference.split('/')[1]);
    expect(sr.identifier).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          system: `${ehrServer.baseUrl}/ServiceRequest`,
          value: placed.serviceRequest.id,
        }),
      ]),
    );
    expect(sr.subject.reference).toBe(task.for.reference);
    const consentId = sr.supportingInfo[0].reference.split('/')[1];
    const consent = await platform.read('Consent', consentId);
    expect(consent.patient.reference).toBe(task.for.reference);
    for (const [type, id] of [
      ['Patient', placed.patient.id],
      ['Consent', placed.consent.id],
      ['ServiceRequest', placed.serviceRequest.id],
    ]) {
      const found = await platform.search(type as string, {
        identifier: `${ehrServer.baseUrl}/${type}|${id}`,
      });
      expect(found.entry ?? []).toHaveLength(1);
    }

    // The CBO's work, mirrored onto the source Task (what referral-service does), goes back.
    await setStatus(task.id, 'accepted', { businessStatus: { text: 'accepted by CBO' } });
    await setStatus(task.id, 'in-progress', { businessStatus: { text: 'contact made' } });
    const procedure: Resource = await platform.create({
      resourceType: 'Procedure',
      status: 'completed',
      basedOn: [{ reference: `ServiceRequest/${sr.id}` }],
      subject: { reference: task.for.reference },
      code: {
        coding: [
          {
            system: 'http://snomed.info/sct',
            code: '467771000124109',
            display: 'Assistance with application for food pantry program',
          },
        ],
      },
      performedDateTime: new Date().toISOString(),
    });
    const completed = await setStatus(task.id, 'completed', {
      businessStatus: { text: 'service delivered' },
      output: [
        {
          type: {
            coding: [
              {
                system:
                  'http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes',
                code: 'resulting-activity',
              },
            ],
          },
          valueReference: { reference: `Procedure/${procedure.id}` },
        },
      ],
    });

    const onEhr = await waitFor(
      async () => {
        const t = await ehr.read('Task', placed.task.id as string);
        return t.status === 'completed' && t;
      },
      { what: 'the EHR Task completed', timeoutMs: 60_000 },
    );
    expect(onEhr.businessStatus).toEqual({ text: 'service delivered' });
    const ext = (onEhr.extension as Array<{ url: string; valueInteger: number }>).find(
      (e) => e.url === CARERELAY_VERSION_EXTENSION,
    );
    expect(ext?.valueInteger).toBe(Number(completed.meta!.versionId));
    const procedureRef = onEhr.output[0].valueReference.reference as string;
    expect(procedureRef).toMatch(/^Procedure\//);
    const ehrProcedure = await ehr.read('Procedure', procedureRef.split('/')[1]);
    expect(ehrProcedure).toMatchObject({
      status: 'completed',
      basedOn: [{ reference: `ServiceRequest/${placed.serviceRequest.id}` }],
      subject: { reference: `Patient/${placed.patient.id}` },
    });
    expect(await ehrStatusHistory(placed.task.id as string)).toEqual([
      'requested',
      'accepted',
      'in-progress',
      'completed',
    ]);
  });

  it("brings the patient's active Consent along even when the ServiceRequest does not name it", async () => {
    const placed = await placeReferralOnEhr(ehr, 'unlinked-consent-1', undefined, {
      linkConsent: false,
    });
    const [task] = await waitFor(
      async () => {
        const tasks = await carerelayTaskFor(placed.task.id as string);
        return tasks.length > 0 && tasks;
      },
      { what: 'the Task pulled into CareRelay', timeoutMs: 30_000 },
    );
    const found = await platform.search('Consent', {
      identifier: `${ehrServer.baseUrl}/Consent|${placed.consent.id}`,
    });
    expect(found.entry ?? []).toHaveLength(1);
    expect(found.entry![0].resource!.patient.reference).toBe(task.for.reference);
  });

  it('a referral CareRelay refuses as it is does not hold back later ones; it is listed, and pulled once fixed on the EHR', async () => {
    // A Task whose focus the EHR never resolved (a transaction fullUrl that was not a UUID).
    const broken = await placeReferralOnEhr(ehr, 'broken-1');
    const { id: _id, meta: _meta, ...taskBody } = broken.task;
    const bad: Resource = await ehr.create({
      ...taskBody,
      resourceType: 'Task',
      identifier: [{ system: 'http://hospital.example/referrals', value: 'task-broken-2' }],
      focus: { reference: 'urn:uuid:service-request' },
    });
    const good = await placeReferralOnEhr(ehr, 'after-broken-1');
    await waitFor(async () => (await carerelayTaskFor(good.task.id as string)).length === 1, {
      what: 'the later referral pulled',
      timeoutMs: 30_000,
    });
    expect(await carerelayTaskFor(bad.id as string)).toHaveLength(0);
    const refusals = await waitFor(
      async () => {
        const r = await json(`${connector.url}/pull/refusals?endpoint=general-hospital`);
        return r.body.find((x: { ehrTaskId: string }) => x.ehrTaskId === bad.id) && r.body;
      },
      { what: 'the refusal listed' },
    );
    expect(refusals.find((x: { ehrTaskId: string }) => x.ehrTaskId === bad.id)).toMatchObject({
      endpointId: 'general-hospital',
      error: 'FHIR request failed: HTTP 400',
    });
    expect((await json(`${connector.url}/pull/refusals?endpoint=Bad_Id`)).status).toBe(400);

    // The EHR fixes it: the update moves its lastUpdated past the watermark; it comes in.
    await ehr.updateWithIfMatch('Task', bad.id as string, (t) => ({
      ...t,
      focus: { reference: `ServiceRequest/${broken.serviceRequest.id}` },
    }));
    await waitFor(async () => (await carerelayTaskFor(bad.id as string)).length === 1, {
      what: 'the fixed referral pulled',
      timeoutMs: 30_000,
    });
    // The intake's local transaction (pulled_tasks, refusal cleared) follows CareRelay's.
    await waitFor(
      async () => {
        const after = await json(`${connector.url}/pull/refusals?endpoint=general-hospital`);
        return !after.body.some((x: { ehrTaskId: string }) => x.ehrTaskId === bad.id);
      },
      { what: 'the refusal cleared' },
    );
  });

  it('while the EHR server is down, updates wait; once it is back they arrive in order and nothing goes backwards', async () => {
    const placed = await placeReferralOnEhr(ehr, 'outage-1');
    const [task] = await waitFor(
      async () => {
        const tasks = await carerelayTaskFor(placed.task.id as string);
        return tasks.length > 0 && tasks;
      },
      { what: 'the Task pulled into CareRelay', timeoutMs: 60_000 },
    );
    await ehrServer.stop();
    try {
      await setStatus(task.id, 'accepted');
      await setStatus(task.id, 'in-progress');
      await setStatus(task.id, 'on-hold', { statusReason: { text: 'patient travelling' } });
      await setStatus(task.id, 'in-progress');
      await setStatus(task.id, 'completed', { statusReason: undefined });
      // The queue holds them, retrying with backoff; nothing is parked.
      const pending = await waitFor(
        async () => {
          const d = await json(`${connector.url}/push/deliveries?task=${task.id}`);
          return d.body.length === 5 && d.body.some((x: { attempts: number }) => x.attempts > 0)
            ? d.body
            : undefined;
        },
        { what: 'five queued versions with failed attempts' },
      );
      expect(pending.every((d: { state: string }) => d.state === 'pending')).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    } finally {
      await ehrServer.start();
    }
    await waitFor(
      async () => (await ehr.read('Task', placed.task.id as string)).status === 'completed',
      { what: 'the EHR Task completed after the outage', timeoutMs: 60_000 },
    );
    const statuses = await ehrStatusHistory(placed.task.id as string);
    expect(statuses).toEqual([
      'requested',
      'accepted',
      'in-progress',
      'on-hold',
      'in-progress',
      'completed',
    ]);
    // CareRelay versions on the EHR only ever went up.
    const versions = (await ehrTaskHistory(placed.task.id as string)).map(
      (t) =>
        ((t.extension as Array<{ url: string; valueInteger: number }>) ?? []).find(
          (x) => x.url === CARERELAY_VERSION_EXTENSION,
        )?.valueInteger ?? 0,
    );
    expect([...versions].sort((a, b) => a - b)).toEqual(versions);
    const deliveries = await json(`${connector.url}/push/deliveries?task=${task.id}`);
    expect(deliveries.body.map((d: { state: string }) => d.state)).toEqual(
      Array(5).fill('delivered'),
    );
  });
});
