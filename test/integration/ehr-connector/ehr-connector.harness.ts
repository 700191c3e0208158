import type { INestApplication } from '@nestjs/common';
import { loadConfig } from '@carerelay/config';
import { FhirApiClient } from '@carerelay/fhir-client';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Resource = Record<string, any>;
import { dropSchema } from '@carerelay/persistence';
import { TOPICS } from '@carerelay/contracts';
import {
  startGroupAtLatest,
  startTestTokenIssuer,
  testEnv,
  uniqueName,
  type TestTokenIssuer,
} from '@carerelay/testing';
import { startEhrConnector } from '../../../apps/ehr-connector/src/bootstrap';
import { startTestFhirApi, type TestFhirApi } from '../../../apps/fhir-api/test/fhir-api.harness';
import { startEhrServer, type RunningEhrServer } from '../../../tools/ehr-server/src/ehr-server';
import { EhrConnectorConfig } from '../../../apps/ehr-connector/src/ehr-connector.config';

import patientFixture from '../../../apps/fhir-api/test/fixtures/Patient-pat-53234.json';
import serviceRequestFixture from '../../../apps/fhir-api/test/fixtures/ServiceRequest-SDOHCC-ServiceRequestActiveFoodPantryApplicationAssistExample.json';
import taskFixture from '../../../apps/fhir-api/test/fixtures/Task-referral-requested.json';
import consentFixture from '../../../apps/fhir-api/test/fixtures/Consent-SDOHCC-ConsentInformationDisclosureExample.json';

export const PLATFORM_ORG = 'carerelay-platform';

export interface TestConnector {
  app: INestApplication;
  url: string;
  schema: string;
  /** Signs the access tokens the connector's API accepts (its JWKS is the connector's key set). */
  tokens: TestTokenIssuer;
  close: () => Promise<void>;
}

/** The key EHR credentials are encrypted with in these tests. */
export const TEST_CREDENTIALS_KEY = Buffer.alloc(32, 7).toString('base64');

/** The issuer whose platform token json() sends (set by startTestConnector). */
let currentIssuer: TestTokenIssuer | undefined;

/**
 * The connector in-process, in a schema and consumer group of its own (starting at the end of
 * fhir.changes.v1: earlier runs' changes are not replayed), on a free port.
 */
export async function startTestConnector(
  fhirBaseUrl: string,
  env: Record<string, string> = {},
): Promise<TestConnector> {
  const { KAFKA_BROKERS, DATABASE_URL } = testEnv();
  const schema = uniqueName('ehr_connector').toLowerCase();
  const groupId = uniqueName('ehr-connector');
  await startGroupAtLatest(groupId, [TOPICS.fhirChanges.name]);
  const tokens = await startTestTokenIssuer();
  currentIssuer = tokens;
  // ServiceAuthModule reads where to find the keys from the environment.
  Object.assign(process.env, tokens.env);
  const config = loadConfig(EhrConnectorConfig, {
    KAFKA_BROKERS,
    DATABASE_URL,
    EHR_CONNECTOR_PORT: '0',
    EHR_CONNECTOR_DB_SCHEMA: schema,
    EHR_CONNECTOR_CONSUMER_GROUP: groupId,
    FHIR_API_BASE_URL: fhirBaseUrl,
    FHIR_API_AUTH: 'dev',
    PLATFORM_ORGANIZATION_ID: PLATFORM_ORG,
    LOG_LEVEL: 'silent',
    OUTBOX_POLL_MS: '50',
    PUSH_POLL_MS: '100',
    PUSH_INITIAL_BACKOFF_MS: '100',
    PUSH_MAX_BACKOFF_MS: '1000',
    PULL_TICK_MS: '200',
    NODE_ENV: 'test',
    EHR_CREDENTIALS_KEY: TEST_CREDENTIALS_KEY,
    ...env,
  });
  const app = await startEhrConnector(config);
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return {
    app,
    url,
    schema,
    tokens,
    close: async () => {
      await app.close();
      await tokens.close();
      await dropSchema(DATABASE_URL, schema);
    },
  };
}

/** CareRelay's FHIR API, the Medplum EHR server and the connector, with a client of each side. */
export interface EhrTestNetwork {
  api: TestFhirApi;
  ehrServer: RunningEhrServer;
  connector: TestConnector;
  /** The EHR's own FHIR server, unauthenticated. */
  ehr: FhirApiClient;
  /** CareRelay's FHIR API as the platform. */
  platform: FhirApiClient;
  /** The CareRelay Tasks pulled from the EHR Task `ehrTaskId` (by its placer identifier). */
  carerelayTasksFor: (ehrTaskId: string) => Promise<Resource[]>;
  close: () => Promise<void>;
}

export async function startEhrTestNetwork(
  env: Record<string, string> = {},
): Promise<EhrTestNetwork> {
  const api = await startTestFhirApi();
  const ehrServer = await startEhrServer({ port: 0 });
  const connector = await startTestConnector(api.baseUrl, env);
  const platform = new FhirApiClient(api.baseUrl, undefined, {
    customHeaders: { 'X-Dev-Actor': `platform:${PLATFORM_ORG}` },
  });
  return {
    api,
    ehrServer,
    connector,
    ehr: new FhirApiClient(ehrServer.baseUrl),
    platform,
    carerelayTasksFor: async (ehrTaskId) => {
      const found = await platform.search('Task', {
        identifier: `${ehrServer.baseUrl}/Task|${ehrTaskId}`,
      });
      return (found.entry ?? []).map((e) => e.resource as Resource);
    },
    close: async () => {
      await connector.close();
      await ehrServer.close();
      await api.close();
    },
  };
}

/** A call to the connector's API, as the platform (the test issuer's token) unless `headers` say otherwise. */
export async function json(
  url: string,
  method = 'GET',
  body?: unknown,
  headers?: Record<string, string>,
): Promise<{ status: number; body: Resource[string] }> {
  const auth = headers ?? (currentIssuer ? await currentIssuer.headers('platform') : {});
  const response = await fetch(url, {
    method,
    headers: body === undefined ? auth : { ...auth, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/**
 * A referral as it sits on the EHR's own FHIR server (built from the IG's examples): Patient,
 * Consent, ServiceRequest (supportingInfo → Consent) and a `requested` Task owned by the platform.
 */
export async function placeReferralOnEhr(
  ehr: FhirApiClient,
  tag: string,
  platformOwner = `Organization/${PLATFORM_ORG}`,
  options: { linkConsent?: boolean; postalCode?: string } = {},
): Promise<{ task: Resource; serviceRequest: Resource; patient: Resource; consent: Resource }> {
  const { id: _p, ...patientBody } = clone(patientFixture) as Resource;
  patientBody.identifier = [{ system: 'http://hospital.example/mrn', value: `mrn-${tag}` }];
  if (options.postalCode)
    for (const address of patientBody.address ?? []) address.postalCode = options.postalCode;
  const patient: Resource = await ehr.create({ ...patientBody, resourceType: 'Patient' });
  const { id: _c, ...consentBody } = clone(consentFixture) as Resource;
  consentBody.patient = { reference: `Patient/${patient.id}` };
  const consent: Resource = await ehr.create({ ...consentBody, resourceType: 'Consent' });
  const { id: _s, ...srBody } = clone(serviceRequestFixture) as Resource;
  srBody.subject = { reference: `Patient/${patient.id}` };
  if (options.linkConsent === false) delete srBody.supportingInfo;
  else srBody.supportingInfo = [{ reference: `Consent/${consent.id}` }];
  delete srBody.reasonReference;
  const serviceRequest: Resource = await ehr.create({
    ...srBody,
    resourceType: 'ServiceRequest',
  });
  const taskBody = clone(taskFixture) as Resource;
  taskBody.focus = { reference: `ServiceRequest/${serviceRequest.id}` };
  taskBody.for = { reference: `Patient/${patient.id}`, display: 'COLIN ABBAS' };
  taskBody.owner = { reference: platformOwner };
  taskBody.identifier = [{ system: 'http://hospital.example/referrals', value: `task-${tag}` }];
  const task: Resource = await ehr.create({ ...taskBody, resourceType: 'Task' });
  return { task, serviceRequest, patient, consent };
}

/**
 * Push mode, as Northside sends referrals: the EHR keeps its own `requested` Task and sends
 * CareRelay a referral (Patient, ServiceRequest, Task, Consent in one transaction) whose Task
 * names it (`<EHR base>/Task|<EHR id>`). Returns both Task ids.
 */
export async function sendReferralNamingEhrTask(
  ehr: FhirApiClient,
  carerelayBaseUrl: string,
  hospitalOrg: string,
  tag: string,
): Promise<{ ehrTaskId: string; taskId: string }> {
  const { id: _t, focus: _f, for: _for, ...own } = clone(taskFixture) as Resource;
  const ehrTask: Resource = await ehr.create({
    ...own,
    resourceType: 'Task',
    requester: { reference: `Organization/${hospitalOrg}` },
    owner: { reference: `Organization/${PLATFORM_ORG}` },
  });
  const hospital = new FhirApiClient(carerelayBaseUrl, undefined, {
    customHeaders: { 'X-Dev-Actor': `ehr:${hospitalOrg}` },
  });
  const urn = (name: string) => `urn:uuid:${crypto.randomUUID()}-${name}`;
  const [p, s, c] = [urn('p'), urn('s'), urn('c')];
  const { id: _p, ...patient } = clone(patientFixture) as Resource;
  const { id: _s, reasonReference: _r, ...sr } = clone(serviceRequestFixture) as Resource;
  const { id: _c, ...consent } = clone(consentFixture) as Resource;
  const task = {
    ...(clone(taskFixture) as Resource),
    identifier: [
      { system: 'http://hospital.example/referrals', value: `task-${tag}` },
      { system: `${ehr.baseUrl}/Task`, value: ehrTask.id },
    ],
    focus: { reference: s },
    for: { reference: p },
    requester: { reference: `Organization/${hospitalOrg}` },
    owner: { reference: `Organization/${PLATFORM_ORG}` },
  };
  const entry = (fullUrl: string, resource: Resource) => ({
    fullUrl,
    resource,
    request: { method: 'POST', url: resource.resourceType },
  });
  const response = await hospital.transaction({
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      entry(p, { ...patient, resourceType: 'Patient' }),
      entry(s, {
        ...sr,
        resourceType: 'ServiceRequest',
        subject: { reference: p },
        supportingInfo: [{ reference: c }],
        requester: { reference: `Organization/${hospitalOrg}` },
      }),
      entry('urn:uuid:task', { ...task, resourceType: 'Task' }),
      entry(c, { ...consent, resourceType: 'Consent', patient: { reference: p } }),
    ],
  });
  const location = (response.entry ?? [])
    .map((e) => (e as { response?: { location?: string } }).response?.location)
    .find((l) => l?.startsWith('Task/'));
  if (!location) throw new Error('no Task in the transaction response');
  return { ehrTaskId: ehrTask.id as string, taskId: location.split('/')[1] };
}
