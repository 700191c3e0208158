import { TASK_CODE_SYSTEM } from '@carerelay/fhir';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Bundle, Consent, Resource } from '@medplum/fhirtypes';
import { DataSource } from 'typeorm';
import { loadConfig } from '@carerelay/config';
import { dropSchema, createServiceDataSource } from '@carerelay/persistence';
import { testEnv, uniqueName } from '@carerelay/testing';
import { FhirApiClient, SmartBackendTokenSource } from '@carerelay/fhir-client';
import { runCli } from '../src/auth/commands/clients.commands';
import { FHIR_API_ALL_MIGRATIONS } from '../src/migrations';
import { startFhirApi } from '../src/bootstrap';
import type { FhirApiModuleOptions } from '../src/app.module';
import { FhirApiConfig } from '../src/fhir-api.config';

import patientFixture from './fixtures/Patient-pat-53234.json';
import serviceRequestFixture from './fixtures/ServiceRequest-SDOHCC-ServiceRequestActiveFoodPantryApplicationAssistExample.json';
import taskFixture from './fixtures/Task-referral-requested.json';
import consentFixture from './fixtures/Consent-SDOHCC-ConsentInformationDisclosureExample.json';

export interface TestFhirApi {
  baseUrl: string;
  schema: string;
  /** A data source on the app's schema, for asserting what is (not) stored. */
  db: DataSource;
  count: (sql: string, params?: unknown[]) => Promise<number>;
  close: () => Promise<void>;
}

/** Boots the app in-process on a free port, in a schema of its own, against the real infra. */
export async function startTestFhirApi(
  env: Record<string, string> = {},
  options: FhirApiModuleOptions = {},
): Promise<TestFhirApi> {
  const { KAFKA_BROKERS, DATABASE_URL } = testEnv();
  const schema = uniqueName('fhir_api').toLowerCase();
  const config = loadConfig(FhirApiConfig, {
    KAFKA_BROKERS,
    DATABASE_URL,
    FHIR_API_PORT: '0',
    FHIR_BASE_URL: 'http://127.0.0.1:8080/fhir',
    FHIR_DB_SCHEMA: schema,
    FHIR_AUTH_DISABLED: 'true',
    LOG_LEVEL: 'silent',
    OUTBOX_POLL_MS: '50',
    NODE_ENV: 'test',
    // Room for the suites' bursts of concurrent writes (20 at once): what they test is the
    // store under that concurrency. Admission control has its own suite (admission.int-spec).
    FHIR_MAX_IN_FLIGHT: '64',
    ...env,
  });
  const api = await startFhirApi(config, options);
  const db = createServiceDataSource({
    url: DATABASE_URL,
    schema,
    entities: [],
    migrations: FHIR_API_ALL_MIGRATIONS,
    poolSize: 2,
  });
  await db.initialize();
  return {
    baseUrl: api.baseUrl,
    schema,
    db,
    count: async (sql, params = []) =>
      Number((await db.query(sql.replace(/\$schema/g, `"${schema}"`), params))[0].n),
    close: async () => {
      await api.close();
      await db.destroy();
      await dropSchema(DATABASE_URL, schema);
    },
  };
}

/** Counts of what the store holds: resources, versions, index rows, outbox events. */
export async function storeCounts(api: TestFhirApi) {
  return {
    resources: await api.count('SELECT count(*) AS n FROM $schema.resources'),
    history: await api.count('SELECT count(*) AS n FROM $schema.resource_history'),
    index: await api.count('SELECT count(*) AS n FROM $schema.search_index'),
    outbox: await api.count('SELECT count(*) AS n FROM $schema.outbox'),
  };
}

/**
 * fhir-kit-client is ESM-only ("import" export condition); Node's own require loads ESM (Node
 * >= 20.19) by file path, outside jest's CommonJS module registry.
 */
type FhirKitClient = {
  read(p: { resourceType: string; id: string; options?: unknown }): Promise<Resource>;
  vread(p: { resourceType: string; id: string; version: string }): Promise<Resource>;
  create(p: { resourceType: string; body: Resource; options?: unknown }): Promise<Resource>;
  update(p: {
    resourceType: string;
    id: string;
    body: Resource;
    options?: unknown;
  }): Promise<Resource>;
  patch(p: {
    resourceType: string;
    id: string;
    jsonPatch: unknown[];
    options?: unknown;
  }): Promise<Resource>;
  search(p: {
    resourceType: string;
    searchParams?: Record<string, string | string[]>;
  }): Promise<Bundle>;
  transaction(p: { body: Resource }): Promise<Bundle>;
  batch(p: { body: Resource }): Promise<Bundle>;
  capabilityStatement(): Promise<Resource>;
  history(p: { resourceType: string; id?: string }): Promise<Bundle>;
  /** Follows the Bundle's `next` (`previous`) link; undefined without one. */
  nextPage(p: { bundle: Bundle }): Promise<Bundle> | undefined;
  prevPage(p: { bundle: Bundle }): Promise<Bundle> | undefined;
  delete(p: { resourceType: string; id: string }): Promise<unknown>;
};
export function fhirKitClient(
  baseUrl: string,
  customHeaders: Record<string, string> = {},
): FhirKitClient {
  // jest replaces `module`'s createRequire with its own (which cannot load ESM); Node's is here:
  const nodeModule = (
    process as unknown as { getBuiltinModule: (id: string) => typeof import('node:module') }
  ).getBuiltinModule('node:module');
  const nodeRequire = nodeModule.createRequire(__filename);
  const entry = (nodeRequire.resolve.paths('fhir-kit-client') ?? [])
    .map((dir) => path.join(dir, 'fhir-kit-client', 'dist', 'index.js'))
    .find((file) => existsSync(file));
  if (!entry) throw new Error('fhir-kit-client is not installed');
  const { Client } = nodeRequire(entry) as { Client: new (o: unknown) => FhirKitClient };
  return new Client({ baseUrl, customHeaders });
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

/** A plain HTTP call (for what a FHIR client library would not send: bad bodies, headers). */
export async function http(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpAnswer> {
  const init: RequestInit = { method, headers: { accept: 'application/fhir+json', ...headers } };
  if (body !== undefined) {
    init.body =
      typeof body === 'string' || body instanceof Uint8Array
        ? (body as string)
        : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/fhir+json';
  }
  const response = await fetch(`${baseUrl}${path}`, init);
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
export const PLACER = 'http://hospital.smarthealthit.org/referrals';
export const MRN = 'http://hospital.smarthealthit.org';
export const PRACTITIONER_ROLE = 'PractitionerRole/SDOHCC-PractitionerRoleDrJanWaterExample';

/**
 * The referral an EHR sends, built from the IG's examples: Patient, ServiceRequest, Task and
 * Consent in one transaction Bundle, each a conditional create on a business identifier.
 */
export function referralBundle(
  tag: string,
  options: { requesterOrg?: string; ownerOrg?: string } = {},
): Bundle {
  const urn = () => `urn:uuid:${randomUUID()}`;
  const [patientUrl, srUrl, taskUrl, consentUrl] = [urn(), urn(), urn(), urn()];
  const { id: _p, ...patient } = clone(patientFixture) as Resource & Record<string, unknown>;
  patient.identifier = [{ system: MRN, value: `mrn-${tag}` }];
  const { id: _s, ...serviceRequest } = clone(serviceRequestFixture) as Resource &
    Record<string, unknown>;
  serviceRequest.identifier = [{ system: PLACER, value: `sr-${tag}` }];
  serviceRequest.subject = { reference: patientUrl };
  serviceRequest.supportingInfo = [{ reference: consentUrl }];
  delete serviceRequest.reasonReference;
  const task = clone(taskFixture) as Resource & Record<string, unknown>;
  task.identifier = [{ system: PLACER, value: `task-${tag}` }];
  task.focus = { reference: srUrl };
  task.for = { reference: patientUrl, display: 'COLIN ABBAS' };
  if (options.requesterOrg) task.requester = { reference: `Organization/${options.requesterOrg}` };
  if (options.ownerOrg) task.owner = { reference: `Organization/${options.ownerOrg}` };
  const { id: _c, ...consent } = clone(consentFixture) as Resource & Record<string, unknown>;
  consent.identifier = [{ system: PLACER, value: `consent-${tag}` }];
  consent.patient = { reference: patientUrl };
  const entry = (fullUrl: string, resource: Resource, identifier: string) => ({
    fullUrl,
    resource,
    request: {
      method: 'POST',
      url: resource.resourceType,
      ifNoneExist: `identifier=${identifier}`,
    },
  });
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      entry(patientUrl, patient as Resource, `${MRN}|mrn-${tag}`),
      entry(srUrl, serviceRequest as Resource, `${PLACER}|sr-${tag}`),
      entry(taskUrl, task as Resource, `${PLACER}|task-${tag}`),
      entry(consentUrl, consent as Resource, `${PLACER}|consent-${tag}`),
    ],
  } as Bundle;
}

export interface TestClient {
  clientId: string;
  organizationId: string;
  role: 'ehr' | 'cbo' | 'coordinator' | 'platform';
  tokenUrl: string;
  privateJwk: JWK;
  alg: 'RS384' | 'ES384';
  /**
   * A FhirApiClient (fhir-kit-client with SMART Backend Services tokens) with these scopes, stating
   * this purpose of use (none: the registration's default).
   */
  fhir: (scope?: string, purposeOfUse?: string) => FhirApiClient;
  /** A fresh access token with these scopes (and stated purpose of use). */
  token: (scope?: string, purposeOfUse?: string) => Promise<string>;
}

/**
 * Registers a client the way `npm run cli -- clients:add` does (the CLI's own command code, a
 * JWKS file with the public half of a jose-generated RS384 or ES384 key), and gives FHIR clients
 * that obtain real SMART Backend Services tokens from the app's token endpoint.
 */
export async function registerClient(
  api: TestFhirApi,
  role: TestClient['role'],
  organizationId: string,
  alg: TestClient['alg'] = 'ES384',
): Promise<TestClient> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `${alg.toLowerCase()}-${randomUUID()}`;
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg };
  const dir = await mkdtemp(path.join(tmpdir(), 'fhir-client-'));
  const file = path.join(dir, 'jwks.json');
  await writeFile(file, JSON.stringify({ keys: [publicJwk] }));
  let out = '';
  let err = '';
  const code = await runCli(
    ['clients:add', '--org', organizationId, '--role', role, '--jwks', file],
    {
      baseUrl: api.baseUrl,
      dataSource: async () => api.db,
      out: (t) => (out += t),
      err: (t) => (err += t),
    },
  );
  await rm(dir, { recursive: true, force: true });
  if (code !== 0) throw new Error(`clients:add failed (${code}): ${err}`);
  const printed = JSON.parse(out) as { client_id: string; token_url: string };
  const tokens = (scope: string, purposeOfUse?: string) =>
    new SmartBackendTokenSource({
      tokenUrl: printed.token_url,
      clientId: printed.client_id,
      privateJwk,
      alg,
      scope,
      purposeOfUse,
    });
  return {
    clientId: printed.client_id,
    organizationId,
    role,
    tokenUrl: printed.token_url,
    privateJwk,
    alg,
    fhir: (scope = 'system/*.cruds', purposeOfUse?: string) =>
      new FhirApiClient(api.baseUrl, tokens(scope, purposeOfUse)),
    token: (scope = 'system/*.cruds', purposeOfUse?: string) => tokens(scope, purposeOfUse).token(),
  };
}

/** Authorization header for http(). */
export const bearer = (token: string): Record<string, string> => ({
  authorization: `Bearer ${token}`,
});

export interface RoutedReferral {
  patient: string;
  sr: string;
  task: string;
  consent: string;
  filler: string;
  cboTask: string;
}

/**
 * An EHR's referral (its Consent only `proposed`, so not in force) routed by the platform to a
 * CBO: a filler-order ServiceRequest performed by the CBO and a Task owned by it, carrying the
 * patient's name in `for.display` and a description naming the patient.
 */
export async function routedReferral(
  tag: string,
  ehr: TestClient,
  platform: TestClient,
  cboOrg: string,
): Promise<RoutedReferral> {
  const bundle = referralBundle(tag, { ownerOrg: platform.organizationId });
  (bundle.entry![3].resource as Consent).status = 'proposed';
  const response = (await ehr.fhir().transaction(bundle)) as Bundle;
  const [patient, sr, task, consent] = response.entry!.map(
    (e) => e.response!.location!.split('/')[1],
  );
  const routed = (await platform.fhir().transaction({
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        fullUrl: 'urn:uuid:filler',
        resource: {
          resourceType: 'ServiceRequest',
          status: 'active',
          intent: 'filler-order',
          basedOn: [{ reference: `ServiceRequest/${sr}` }],
          category: [
            {
              coding: [
                {
                  system:
                    'http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes',
                  code: 'food-insecurity',
                },
              ],
            },
          ],
          code: { coding: [{ system: 'http://snomed.info/sct', code: '467771000124109' }] },
          subject: { reference: `Patient/${patient}` },
          requester: { reference: `Organization/${platform.organizationId}` },
          performer: [{ reference: `Organization/${cboOrg}` }],
          supportingInfo: [{ reference: `Consent/${consent}` }],
        },
        request: { method: 'POST', url: 'ServiceRequest' },
      },
      {
        fullUrl: 'urn:uuid:cbo-task',
        resource: {
          resourceType: 'Task',
          partOf: [{ reference: `Task/${task}` }],
          status: 'requested',
          intent: 'order',
          code: {
            coding: [{ system: TASK_CODE_SYSTEM, code: 'fulfill' }],
          },
          focus: { reference: 'urn:uuid:filler' },
          for: { reference: `Patient/${patient}`, display: 'COLIN ABBAS' },
          description: 'Food pantry application for Colin',
          authoredOn: new Date().toISOString(),
          requester: { reference: `Organization/${platform.organizationId}` },
          owner: { reference: `Organization/${cboOrg}` },
        },
        request: { method: 'POST', url: 'Task' },
      },
    ],
  } as Bundle)) as Bundle;
  const [filler, cboTask] = routed.entry!.map((e) => e.response!.location!.split('/')[1]);
  return { patient, sr, task, consent, filler, cboTask };
}

/** A rest-hook endpoint on loopback that records every notification Bundle and its headers. */
export async function startHookEndpoint() {
  const { createServer } = await import('node:http');
  const received: { bundle: any; headers: Record<string, unknown> }[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        received.push({
          bundle: JSON.parse(Buffer.concat(chunks).toString('utf8')),
          headers: { ...req.headers },
        });
      } catch {
        // not a notification
      }
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    received,
    /** Event notifications of one Subscription. */
    notificationsOf: (subscriptionId: string) =>
      received.filter((r) => {
        const params = (r.bundle?.entry?.[0]?.resource?.parameter ?? []) as {
          name: string;
          valueCode?: string;
          valueReference?: { reference?: string };
        }[];
        return (
          params.find((p) => p.name === 'type')?.valueCode === 'event-notification' &&
          (params.find((p) => p.name === 'subscription')?.valueReference?.reference ?? '').endsWith(
            `/Subscription/${subscriptionId}`,
          )
        );
      }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export const TASK_TOPIC = 'http://hl7.org/fhir/us/sdoh-clinicalcare/SubscriptionTopic/Task';
const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';

/** A Backport Subscription (R4) on the Task topic. */
export function taskSubscription(
  filter: string,
  endpoint: string,
  content: 'id-only' | 'full-resource' | 'empty' = 'id-only',
  header?: string[],
): Resource {
  return {
    resourceType: 'Subscription',
    status: 'requested',
    reason: 'my Tasks',
    criteria: TASK_TOPIC,
    _criteria: {
      extension: [{ url: `${BACKPORT}/backport-filter-criteria`, valueString: filter }],
    },
    channel: {
      type: 'rest-hook',
      endpoint,
      payload: 'application/fhir+json',
      _payload: {
        extension: [{ url: `${BACKPORT}/backport-payload-content`, valueCode: content }],
      },
      ...(header ? { header } : {}),
    },
  } as unknown as Resource;
}

/** `Type/id` of each resource of a searchset (its OperationOutcome left out), sorted. */
export const bundleKeys = (bundle: Bundle): string[] =>
  (bundle.entry ?? [])
    .filter((e) => e.resource?.resourceType !== 'OperationOutcome')
    .map((e) => `${e.resource!.resourceType}/${e.resource!.id}`)
    .sort();
