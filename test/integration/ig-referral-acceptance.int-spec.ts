import { INestApplication } from '@nestjs/common';
import { randomInt, randomUUID } from 'node:crypto';
import { EventTypes, TOPICS, type ConsentEventV1 } from '@carerelay/contracts';
import { loadConfig } from '@carerelay/config';
import { FhirApiClient, Resource } from '@carerelay/fhir-client';
import { Client as PgClient } from 'pg';
import { dropSchema } from '@carerelay/persistence';
import {
  collectTopics,
  testEnv,
  uniqueName,
  waitFor,
  type CollectedMessage,
} from '@carerelay/testing';
import { publishCbos, publishEvent } from './directory.fixtures';
import { startFhirApi, type RunningFhirApi } from '../../apps/fhir-api/src/bootstrap';
import { FhirApiConfig } from '../../apps/fhir-api/src/fhir-api.config';
import { startTestReferralService } from './referral-service.harness';
import { fixture, PATIENT, SERVICE_REQUEST, TASK_POSTED } from '../../libs/fhir/test-fixtures/load';

const SNOMED = 'http://snomed.info/sct';
const FOOD_PANTRY_HELP = '467771000124109';
/** A local code no IG value set lists: it can only be routed on by the services that list it. */
const LOCAL_CODES = 'https://hospital.example/fhir/CodeSystem/local-services';
const RENT_HELP = 'emergency-rent-assistance';

/**
 * Referrals shaped as the SDOH Clinical Care IG allows (its examples, with the variations a real
 * EHR sends) are accepted by the FHIR API and routed by referral-service without special cases:
 * no category, contained resources, conditional references in a transaction, a Task drafted and
 * then requested, a focus given as an absolute URL of this server.
 */
describe('IG referrals are accepted and routed', () => {
  jest.setTimeout(180_000);
  const platform = 'carerelay-platform';
  const hospital = uniqueName('hospital').replace(/_/g, '-');
  const zip = String(randomInt(0, 1000)).padStart(5, '0');
  const org = (name: string) => `${name}-${zip}-${Date.now().toString(36)}`;
  const pantry = org('cbo-pantry');
  const rentHelp = org('cbo-rent');
  const referralSchema = uniqueName('referral_ig').toLowerCase();
  const fhirSchema = uniqueName('fhir_ig').toLowerCase();
  const mrnSystem = `https://${hospital}.example/mrn`;

  let fhirApi: RunningFhirApi;
  let referralService: INestApplication;
  let events: { messages: CollectedMessage[]; stop: () => Promise<void> };
  let db: PgClient;
  let ehr: FhirApiClient;
  const client = (actor: string) =>
    new FhirApiClient(fhirApi.baseUrl, undefined, { customHeaders: { 'X-Dev-Actor': actor } });
  const asPlatform = () => client(`platform:${platform}`);

  const publish = publishEvent;

  beforeAll(async () => {
    const { KAFKA_BROKERS, DATABASE_URL } = testEnv();
    fhirApi = await startFhirApi(
      loadConfig(FhirApiConfig, {
        KAFKA_BROKERS,
        DATABASE_URL,
        FHIR_API_PORT: '0',
        FHIR_BASE_URL: 'http://127.0.0.1:8080/fhir',
        FHIR_DB_SCHEMA: fhirSchema,
        FHIR_AUTH_DISABLED: 'true',
        LOG_LEVEL: 'silent',
        OUTBOX_POLL_MS: '50',
      }),
    );
    ehr = client(`ehr:${hospital}`);
    referralService = await startTestReferralService({
      fhirBaseUrl: fhirApi.baseUrl,
      platformOrganizationId: platform,
      schema: referralSchema,
      groupId: uniqueName('referral-service-ig'),
      fhirClient: asPlatform(),
    });
    events = await collectTopics([TOPICS.referralEvents.name]);
    db = new PgClient({ connectionString: DATABASE_URL });
    await db.connect();
    await publishCbos(zip, [
      {
        id: pantry,
        name: 'Community Pantry',
        categories: ['food-insecurity'],
        codes: [{ system: SNOMED, code: FOOD_PANTRY_HELP }],
      },
      {
        id: rentHelp,
        name: 'Rent Help',
        categories: ['housing-instability'],
        codes: [{ system: LOCAL_CODES, code: RENT_HELP }],
      },
    ]);
  });

  afterAll(async () => {
    await db?.end();
    await events?.stop();
    await referralService?.close();
    await fhirApi?.close();
    await dropSchema(testEnv().DATABASE_URL, referralSchema);
    await dropSchema(testEnv().DATABASE_URL, fhirSchema);
  });

  /** The IG's example Patient, with this run's ZIP code and an MRN of its own. */
  const igPatient = (mrn = randomUUID()): Resource => {
    const patient = fixture<Resource>(PATIENT);
    delete patient.id;
    patient.identifier = [{ system: mrnSystem, value: mrn }];
    patient.address = [{ line: ['49 Meadow St'], city: 'Mounds', state: 'OK', postalCode: zip }];
    return patient;
  };

  /** The IG's food pantry ServiceRequest, sent by this hospital for `subject`. */
  const igServiceRequest = (subject: string): Resource => {
    const sr = fixture<Resource>(SERVICE_REQUEST);
    delete sr.id;
    delete sr.reasonReference;
    sr.subject = { reference: subject };
    sr.requester = { reference: `Organization/${hospital}` };
    return sr;
  };

  /** The IG's API walkthrough Task (POSTed `requested`), owned by the platform. */
  const igTask = (focus: string, patient: string): Resource => {
    const task = fixture<Resource>(TASK_POSTED);
    task.focus = { reference: focus };
    task.for = { reference: patient };
    task.requester = { reference: `Organization/${hospital}` };
    task.owner = { reference: `Organization/${platform}` };
    task.authoredOn = new Date().toISOString();
    return task;
  };

  const grantConsent = (patientId: string) =>
    publish(EventTypes.consentGranted, {
      consentId: uniqueName('consent'),
      patientId,
      organizationId: null,
      occurredAt: new Date().toISOString(),
      securityLabels: [],
    } satisfies ConsentEventV1);

  const eventOf = (referralId: string, state: string) =>
    events.messages
      .map((m) => (m.key === referralId ? JSON.parse(m.value!) : undefined))
      .find((e) => e?.state === state);

  const routedTo = async (referralId: string, organizationId: string) => {
    const routed = await waitFor(() => eventOf(referralId, 'routed'), {
      what: `referral ${referralId} routed`,
      timeoutMs: 60_000,
    });
    expect(routed.targetOrganizationId).toBe(organizationId);
    const cboTask = await asPlatform().read('Task', routed.cboTaskId);
    const fillerOrder = await asPlatform().read(
      'ServiceRequest',
      cboTask.focus.reference.split('/')[1],
    );
    return { routed, cboTask, fillerOrder };
  };

  const createPatient = async (): Promise<string> => {
    const patient = await ehr.create<Resource>(igPatient());
    await grantConsent(patient.id!);
    return patient.id!;
  };

  it('routes a ServiceRequest without category on the SDOH domain its code belongs to', async () => {
    const patientId = await createPatient();
    const sr = igServiceRequest(`Patient/${patientId}`);
    delete sr.category;
    const created = await ehr.create<Resource>(sr);
    const task = await ehr.create<Resource>(
      igTask(`ServiceRequest/${created.id}`, `Patient/${patientId}`),
    );
    const { routed, fillerOrder } = await routedTo(task.id!, pantry);
    expect(routed.explanation.chosen.reasons.join(' ')).toMatch(/Serves Food Insecurity/i);
    expect(fillerOrder.code).toEqual(sr.code);
  });

  it('routes a ServiceRequest without category whose code no IG value set lists on the code', async () => {
    const patientId = await createPatient();
    const sr = igServiceRequest(`Patient/${patientId}`);
    delete sr.category;
    sr.code = { coding: [{ system: LOCAL_CODES, code: RENT_HELP, display: 'Rent assistance' }] };
    const created = await ehr.create<Resource>(sr);
    const task = await ehr.create<Resource>(
      igTask(`ServiceRequest/${created.id}`, `Patient/${patientId}`),
    );
    const { routed } = await routedTo(task.id!, rentHelp);
    expect(routed.explanation.chosen.reasons.join(' ')).toMatch(/Provides the requested service/);
  });

  it('routes a ServiceRequest whose requester and performer are identifier-only references', async () => {
    const patientId = await createPatient();
    const sr = igServiceRequest(`Patient/${patientId}`);
    // EHRs often name the ordering clinician by NPI and the intended performer by a directory
    // identifier, with no resource on this server to point to.
    const npi = { system: 'http://hl7.org/fhir/sid/us-npi', value: '1234567893' };
    sr.requester = { identifier: npi, display: 'Dr. Ana Ruiz' };
    sr.performer = [{ identifier: { system: 'urn:test:cbo-directory', value: 'pantry-1' } }];
    const created = await ehr.create<Resource>(sr);
    expect(created.requester).toEqual({ identifier: npi, display: 'Dr. Ana Ruiz' });
    const task = await ehr.create<Resource>(
      igTask(`ServiceRequest/${created.id}`, `Patient/${patientId}`),
    );
    const { routed } = await routedTo(task.id!, pantry);
    expect(routed.targetOrganizationId).toBe(pantry);
  });

  it('routes a ServiceRequest with a contained Condition, which the CBO copy keeps', async () => {
    const patientId = await createPatient();
    const sr = igServiceRequest(`Patient/${patientId}`);
    const condition = fixture<Resource>('Condition-SDOHCC-ConditionFoodInsecurityExample');
    condition.id = 'food-insecurity';
    condition.subject = { reference: `Patient/${patientId}` };
    delete condition.evidence;
    sr.contained = [condition];
    sr.reasonReference = [{ reference: '#food-insecurity' }];
    const created = await ehr.create<Resource>(sr);
    const task = await ehr.create<Resource>(
      igTask(`ServiceRequest/${created.id}`, `Patient/${patientId}`),
    );
    const { fillerOrder } = await routedTo(task.id!, pantry);
    expect(fillerOrder.reasonReference).toEqual([{ reference: '#food-insecurity' }]);
    expect(fillerOrder.contained).toEqual([expect.objectContaining({ id: 'food-insecurity' })]);
  });

  it('accepts a Task for a contained Patient and takes it in from the contained details', async () => {
    const sr = igServiceRequest(`Patient/${await createPatient()}`);
    const created = await ehr.create<Resource>(sr);
    const task = igTask(`ServiceRequest/${created.id}`, '#patient');
    task.contained = [{ ...igPatient(), id: 'patient' }];
    const stored = await ehr.create<Resource>(task);
    // No consent can name a Patient that exists only inside the Task: it waits for one.
    await waitFor(() => eventOf(stored.id!, 'awaiting-consent'), {
      what: 'the referral taken in',
      timeoutMs: 60_000,
    });
    const row = await db.query(`SELECT need FROM "${referralSchema}".referral WHERE id = $1`, [
      stored.id,
    ]);
    expect(row.rows[0].need).toMatchObject({ categories: ['food-insecurity'], postalCode: zip });
  });

  it('resolves conditional references (Patient?identifier=…) in a transaction and routes it', async () => {
    const mrn = randomUUID();
    const existing = await ehr.create<Resource>(igPatient(mrn));
    await grantConsent(existing.id!);
    const conditional = `Patient?identifier=${encodeURIComponent(`${mrnSystem}|${mrn}`)}`;
    const response = await ehr.transaction({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:1d7e3a52-4a0b-4b7d-9a39-0f6f3b0c2d11',
          resource: igServiceRequest(conditional),
          request: { method: 'POST', url: 'ServiceRequest' },
        },
        {
          fullUrl: 'urn:uuid:9c0b4f0e-2a43-4b0e-8f5c-7d8e0c7b6a22',
          resource: igTask('urn:uuid:1d7e3a52-4a0b-4b7d-9a39-0f6f3b0c2d11', conditional),
          request: { method: 'POST', url: 'Task' },
        },
      ],
    });
    const location = (i: number) =>
      (response.entry![i] as { response: { location: string } }).response.location;
    const taskId = location(1).split('/')[1];
    const task = await ehr.read('Task', taskId);
    expect(task.for).toEqual({ reference: `Patient/${existing.id}` });
    const sr = await ehr.read('ServiceRequest', location(0).split('/')[1]);
    expect(sr.subject).toEqual({ reference: `Patient/${existing.id}` });
    const { cboTask } = await routedTo(taskId, pantry);
    expect(cboTask.for).toEqual({ reference: `Patient/${existing.id}` });
  });

  it('resolves a conditional reference to a Patient created in the same transaction by ifNoneExist', async () => {
    const mrn = randomUUID();
    const identifier = `${mrnSystem}|${mrn}`;
    const conditional = `Patient?identifier=${encodeURIComponent(identifier)}`;
    const response = await ehr.transaction({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          resource: igServiceRequest(conditional),
          request: { method: 'POST', url: 'ServiceRequest' },
        },
        {
          fullUrl: 'urn:uuid:5b7f0c1e-8d3a-4c2f-9e61-2a4b6c8d0e33',
          resource: igPatient(mrn),
          request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${identifier}` },
        },
      ],
    });
    const patientLocation = (response.entry![1] as { response: { location: string } }).response
      .location;
    const srLocation = (response.entry![0] as { response: { location: string } }).response.location;
    const sr = await ehr.read('ServiceRequest', srLocation.split('/')[1]);
    expect(sr.subject).toEqual({ reference: `Patient/${patientLocation.split('/')[1]}` });
  });

  it('refuses a conditional reference that matches no resource (412), writing nothing', async () => {
    const conditional = `Patient?identifier=${encodeURIComponent(`${mrnSystem}|nobody`)}`;
    await expect(
      ehr.transaction({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            resource: igServiceRequest(conditional),
            request: { method: 'POST', url: 'ServiceRequest' },
          },
        ],
      }),
    ).rejects.toMatchObject({ status: 412 });
  });

  it('starts the referral when a Task created as draft is moved to requested', async () => {
    const patientId = await createPatient();
    const sr = await ehr.create<Resource>(igServiceRequest(`Patient/${patientId}`));
    const draft = await ehr.create<Resource>({
      ...igTask(`ServiceRequest/${sr.id}`, `Patient/${patientId}`),
      status: 'draft',
    });
    // Nothing happens to a draft: it is not a referral yet.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(eventOf(draft.id!, 'requested')).toBeUndefined();
    await ehr.updateWithIfMatch('Task', draft.id!, (t) => ({ ...t, status: 'requested' }));
    const { cboTask } = await routedTo(draft.id!, pantry);
    expect(cboTask.partOf).toEqual([{ reference: `Task/${draft.id}` }]);
  });

  it('routes a Task whose focus is an absolute URL of this server', async () => {
    const patientId = await createPatient();
    const sr = await ehr.create<Resource>(igServiceRequest(`Patient/${patientId}`));
    // The server's base URL as it names itself (FHIR_BASE_URL with the port it listens on).
    const base = fhirApi.baseUrl;
    const task = await ehr.create<Resource>(
      igTask(`${base}/ServiceRequest/${sr.id}`, `${base}/Patient/${patientId}`),
    );
    const { fillerOrder, cboTask } = await routedTo(task.id!, pantry);
    expect(fillerOrder.basedOn).toEqual([{ reference: `ServiceRequest/${sr.id}` }]);
    expect(fillerOrder.category).toEqual(sr.category);
    expect(cboTask.for).toEqual({ reference: `Patient/${patientId}` });
  });
});
