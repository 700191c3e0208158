// Every claim of GET /fhir/metadata exercised against the running API: the formats, the system
// interactions, and per resource type its interactions, search parameters, _include/_revinclude,
// conditional create and update-as-create, supported profiles (the IG's example of each is
// accepted) and operations; Subscription (served with the Subscriptions module, as in main.ts)
// through a local rest-hook endpoint. The test walks the statement itself, so a claim added
// without support (or a type or profile without a sample here) fails it.
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type {
  CapabilityStatement,
  CapabilityStatementRestResource,
  Resource,
} from '@medplum/fhirtypes';
import { loadConfig } from '@carerelay/config';
import { TOPICS } from '@carerelay/contracts';
import { dropSchema } from '@carerelay/persistence';
import {
  CHAINABLE,
  fhirXmlToJson,
  HISTORY_POLLING,
  ITERATE,
  KEYSET_PAGING,
  LAST_UPDATED_POLLING,
  searchParametersFor,
  SORTABLE,
} from '@carerelay/fhir';
import { startGroupAtLatest, testEnv, uniqueName } from '@carerelay/testing';
import { startFhirApi, type RunningFhirApi } from '../src/bootstrap';
import { FhirApiConfig } from '../src/fhir-api.config';
import { EXT, TASK_TOPIC } from '../src/subscriptions/backport';
import {
  conformanceReport,
  IG_SHALL_PROFILES,
  profileClaim,
} from './coordination-platform.requirements';
import {
  SUBSCRIPTION_MIGRATIONS,
  SubscriptionsModule,
} from '../src/subscriptions/subscriptions.module';

const PLATFORM = 'carerelay-platform';
const TEMP = 'http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes';
const SNOMED = 'http://snomed.info/sct';

/** A minimal valid instance of each type (the IG's rules included) for `patient`. */
function sample(type: string, patient: string): Resource | undefined {
  const subject = { reference: `Patient/${patient}` };
  const code = { coding: [{ system: SNOMED, code: '467771000124109' }] };
  const samples: Record<string, Record<string, unknown>> = {
    Patient: { name: [{ family: 'Conformance' }] },
    Task: { status: 'requested', intent: 'order', code: { text: 'call back' }, for: subject },
    ServiceRequest: {
      status: 'active',
      intent: 'order',
      category: [{ coding: [{ system: TEMP, code: 'food-insecurity' }] }],
      code,
      subject,
    },
    Procedure: { status: 'completed', code, subject, performedDateTime: '2026-01-02' },
    Consent: {
      status: 'active',
      scope: { coding: [{ code: 'patient-privacy' }] },
      category: [
        { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IDSCL' }] },
      ],
      patient: subject,
      dateTime: '2026-01-02',
      organization: [{ reference: `Organization/${PLATFORM}` }],
      sourceAttachment: { title: 'signed form' },
      policyRule: {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }],
      },
    },
    Condition: { subject, code },
    Goal: {
      lifecycleStatus: 'active',
      description: { text: 'food security' },
      subject,
    },
    Observation: { status: 'final', code, subject },
    QuestionnaireResponse: { status: 'completed', subject },
    Practitioner: { name: [{ family: 'Water' }] },
    PractitionerRole: { active: true },
    Organization: { name: 'Conformance CBO' },
    HealthcareService: { name: 'Pantry' },
    Location: { name: 'Pantry site' },
    DocumentReference: { status: 'current', content: [{ attachment: { title: 'note' } }], subject },
    Group: { type: 'person', actual: true },
    CareTeam: { subject },
    RelatedPerson: { patient: subject },
    Coverage: {
      status: 'active',
      beneficiary: subject,
      payor: [{ reference: `Organization/${PLATFORM}` }],
    },
    Device: { status: 'active' },
    Questionnaire: { status: 'active', url: `http://example.org/Questionnaire/${patient}` },
    Endpoint: {
      status: 'active',
      connectionType: {
        system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type',
        code: 'hl7-fhir-rest',
      },
      managingOrganization: { reference: `Organization/${PLATFORM}` },
      payloadType: [{ text: 'any' }],
      address: `https://ehr.example.org/fhir/${patient}`,
    },
  };
  const body = samples[type];
  return body ? ({ resourceType: type, ...body } as Resource) : undefined;
}

/** The IG's examples (CC0) the repository holds, in an order where references resolve. */
function igExamples(): Resource[] {
  const dirs = [join(__dirname, '../../../libs/fhir/test-fixtures'), join(__dirname, 'fixtures')];
  const order = [
    'Organization',
    'Practitioner',
    'Location',
    'HealthcareService',
    'PractitionerRole',
    'Patient',
    'Consent',
    'Condition',
    'Goal',
    'Group',
    'Questionnaire',
    'QuestionnaireResponse',
    'Observation',
    'ServiceRequest',
    'Procedure',
    'Task',
  ];
  const byId = new Map<string, Resource>();
  for (const dir of dirs)
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
      const resource = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Resource;
      if (resource.id) byId.set(`${resource.resourceType}/${resource.id}`, resource);
    }
  const rank = (r: Resource) =>
    order.includes(r.resourceType) ? order.indexOf(r.resourceType) : order.length;
  return [...byId.values()].sort((a, b) => rank(a) - rank(b));
}

/** A canonical without its `|version`. */
const unversioned = (canonical: string) => canonical.split('|')[0];

/**
 * A resource claiming `profile`, to be created: the IG's example of it (a Task as it is created
 * here, `requested`: its later states are reached by updates), else the instance below.
 */
function profiled(profile: string, examples: Resource[], patient: string): Resource | undefined {
  const example = examples.find((r) =>
    (r.meta?.profile ?? []).some((p) => unversioned(p) === unversioned(profile)),
  );
  let body: Record<string, unknown> | undefined;
  if (example) {
    body = { ...(example as unknown as Record<string, unknown>) };
    delete body.id;
    if (body.resourceType === 'Task') {
      body.status = 'requested';
      delete body.businessStatus;
      delete body.output;
    }
  } else if (unversioned(profile).endsWith('/us-core-coverage')) {
    // No IG example: US Core Coverage's mandatory and Must Support elements.
    body = {
      resourceType: 'Coverage',
      identifier: [
        {
          type: {
            coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MB' }],
          },
          system: 'http://example.org/member-ids',
          value: `M-${patient}`,
        },
      ],
      status: 'active',
      type: { coding: [{ system: 'https://nahdo.org/sopt', code: '2', display: 'MEDICAID' }] },
      subscriberId: `M-${patient}`,
      beneficiary: { reference: `Patient/${patient}` },
      relationship: {
        coding: [
          { system: 'http://terminology.hl7.org/CodeSystem/subscriber-relationship', code: 'self' },
        ],
      },
      period: { start: '2026-01-01' },
      payor: [{ reference: 'Organization/SDOHCC-OrganizationPayerExample' }],
    };
  }
  body ??= usCoreInstance(unversioned(profile), patient);
  return body ? ({ ...body, meta: { profile: [profile] } } as unknown as Resource) : undefined;
}

/**
 * US Core 7.0.0 CareTeam and DocumentReference (the IG names them, with no example): their
 * mandatory and Must Support elements. CareTeam: status, subject, participant with role and
 * member. DocumentReference: status, type (LOINC), the `clinical-note` category slice, subject,
 * date, author, content.attachment with contentType and url (us-core-6: url or data), format.
 */
function usCoreInstance(profile: string, patient: string): Record<string, unknown> | undefined {
  if (profile.endsWith('/us-core-careteam'))
    return {
      resourceType: 'CareTeam',
      status: 'active',
      subject: { reference: `Patient/${patient}` },
      participant: [
        {
          role: [
            {
              coding: [
                {
                  system: 'http://snomed.info/sct',
                  code: '106328005',
                  display: 'Social worker',
                },
              ],
            },
          ],
          member: { reference: 'Practitioner/SDOHCC-PractitionerDrJanWaterExample' },
        },
      ],
    };
  if (profile.endsWith('/us-core-documentreference'))
    return {
      resourceType: 'DocumentReference',
      status: 'current',
      type: { coding: [{ system: 'http://loinc.org', code: '59284-0', display: 'Consent' }] },
      category: [
        {
          coding: [
            {
              system: 'http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category',
              code: 'clinical-note',
            },
          ],
        },
      ],
      subject: { reference: `Patient/${patient}` },
      date: '2026-01-05T10:00:00Z',
      author: [{ reference: 'Practitioner/SDOHCC-PractitionerDrJanWaterExample' }],
      content: [
        {
          attachment: {
            contentType: 'application/pdf',
            url: 'http://example.org/consents/signed.pdf',
          },
          format: {
            system: 'http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode',
            code: 'urn:ihe:iti:xds:2017:mimeTypeSufficient',
          },
        },
      ],
    };
  return undefined;
}

/** A rest-hook endpoint on loopback that answers every notification (the handshake) with 200. */
async function startSubscriber(): Promise<{ url: string; close: () => Promise<unknown> }> {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return { url, close: () => new Promise((resolve) => server.close(resolve)) };
}

/**
 * A well-formed value for search parameter `name` of `type` (what matters is 200, not 400): a
 * reference names a type the parameter may point at.
 */
function searchValue(type: string, name: string, id: string): string | undefined {
  const info = searchParametersFor(type).get(name);
  if (name === '_id') return id;
  if (info?.type === 'composite') {
    // One well-formed value per component, `$`-separated in the definition's order.
    const parts = (info.components ?? []).map((c) => valueOfType(c.type, c.targets, type, id));
    return parts.every((part) => part !== undefined) ? parts.join('$') : undefined;
  }
  return info && valueOfType(info.type, info.targets, type, id);
}

function valueOfType(
  paramType: string,
  targets: readonly string[],
  type: string,
  id: string,
): string | undefined {
  switch (paramType) {
    case 'token':
      return 'http://example.org|x';
    case 'reference':
      return `${targets[0] ?? type}/${id}`;
    case 'date':
      return 'ge2000-01-01';
    case 'string':
      return 'a';
    case 'uri':
      return 'http://example.org/x';
    case 'number':
      return '1';
    case 'quantity':
      return '1';
    default:
      return undefined;
  }
}

describe('CapabilityStatement conformance: every claim is exercised', () => {
  jest.setTimeout(300_000);
  const schema = uniqueName('fhir_cap').toLowerCase();
  let api: RunningFhirApi;
  let statement: CapabilityStatement;
  let patientId: string;
  let subscriber: Awaited<ReturnType<typeof startSubscriber>>;
  const examples = igExamples();
  const failures: string[] = [];
  let checked = 0;
  /** Each claim checked in this run: passed (true) or not; docs/conformance-report.md's verdicts. */
  const outcomes = new Map<string, boolean>();
  const record = (claim: string, ok: boolean) =>
    outcomes.set(claim, ok && outcomes.get(claim) !== false);

  const call = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const response = await fetch(`${api.baseUrl}/${path}`, {
      method,
      headers: {
        'X-Dev-Actor': `platform:${PLATFORM}`,
        accept: 'application/fhir+json',
        ...(body !== undefined ? { 'content-type': 'application/fhir+json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const contentType = response.headers.get('content-type');
    let json: Record<string, unknown> | undefined;
    try {
      json = !text
        ? undefined
        : contentType?.startsWith('application/fhir+xml')
          ? (fhirXmlToJson(text) as unknown as Record<string, unknown>)
          : JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, json, contentType };
  };

  /** Records a failed claim instead of stopping at the first: the report lists them all. */
  const expectStatus = (claim: string, actual: number, ...wanted: number[]) => {
    checked++;
    record(claim, wanted.includes(actual));
    if (!wanted.includes(actual)) failures.push(`${claim}: HTTP ${actual}, expected ${wanted}`);
  };

  beforeAll(async () => {
    const { KAFKA_BROKERS, DATABASE_URL } = testEnv();
    subscriber = await startSubscriber();
    const base = { url: '' };
    // Only this run's changes: a new group would otherwise replay every earlier run's.
    const groupId = uniqueName('fhir-api-cap-subscriptions');
    await startGroupAtLatest(groupId, [TOPICS.fhirChanges.name]);
    api = await startFhirApi(
      loadConfig(FhirApiConfig, {
        KAFKA_BROKERS,
        DATABASE_URL,
        FHIR_API_PORT: '0',
        FHIR_DB_SCHEMA: schema,
        FHIR_AUTH_DISABLED: 'true',
        // The test's own subscriber listens on loopback over http.
        SUBSCRIPTION_ALLOWED_HTTP_HOSTS: '127.0.0.1',
        LOG_LEVEL: 'silent',
      }),
      {
        imports: [SubscriptionsModule.register({ baseUrl: () => base.url, groupId })],
        migrations: SUBSCRIPTION_MIGRATIONS,
      },
    );
    base.url = api.baseUrl;
    statement = (await call('GET', 'metadata')).json as unknown as CapabilityStatement;
    const patient = await call('POST', 'Patient', sample('Patient', 'x'));
    patientId = String(patient.json?.id);
    // The examples reference one another by id: each is put under its own.
    for (const example of examples)
      await call('PUT', `${example.resourceType}/${example.id}`, example);
  });

  afterAll(async () => {
    writeReport();
    await api?.close();
    await subscriber?.close();
    await dropSchema(testEnv().DATABASE_URL, schema);
  });

  it('answers every format, system interaction and resource claim of /metadata', async () => {
    expect(statement.resourceType).toBe('CapabilityStatement');
    const rest = statement.rest![0];

    for (const format of statement.format ?? []) {
      const mime =
        format === 'json' ? 'application/json' : format === 'xml' ? 'application/xml' : format;
      const xml = format === 'xml' || format.endsWith('+xml');
      const response = await call(
        'GET',
        `metadata?_format=${encodeURIComponent(format)}`,
        undefined,
        {
          accept: mime,
        },
      );
      expectStatus(`format ${format}`, response.status, 200);
      if (!response.contentType?.startsWith(xml ? 'application/fhir+xml' : 'application/fhir+json'))
        failures.push(`format ${format}: answered as ${response.contentType}`);
      if (response.json?.resourceType !== 'CapabilityStatement')
        failures.push(`format ${format}: not a CapabilityStatement`);
    }

    for (const { code } of rest.interaction ?? []) {
      const response = await call('POST', '', {
        resourceType: 'Bundle',
        type: code,
        entry: [{ request: { method: 'GET', url: `Patient/${patientId}` } }],
      });
      expectStatus(`system ${code}`, response.status, 200);
      record(`system ${code}`, response.json?.type === `${code}-response`);
      if (response.json?.type !== `${code}-response`)
        failures.push(`system ${code}: answered ${String(response.json?.type)}`);
    }
    for (const operation of rest.operation ?? [])
      failures.push(`operation ${operation.name}: no check here — add one`);

    for (const resource of rest.resource ?? []) await exercise(resource);
    // Served here as in main.ts: /metadata must say so.
    if (!rest.resource?.some((r) => r.type === 'Subscription'))
      failures.push('Subscription: served but not listed');
    // The IG's Coordination Platform SHALL profiles (docs/conformance.md): each listed.
    for (const [type, profiles] of Object.entries(IG_SHALL_PROFILES)) {
      const listed = (rest.resource?.find((r) => r.type === type)?.supportedProfile ?? []).map(
        unversioned,
      );
      for (const profile of profiles)
        if (!listed.some((p) => p.endsWith(`/${profile}`)))
          failures.push(`${type}: the IG's SHALL profile ${profile} is not listed`);
    }
    expect(failures).toEqual([]);
    // Every type, interaction and parameter counted once at least: the statement is not empty.
    expect(checked).toBeGreaterThan((rest.resource ?? []).length * 10);
  });

  /**
   * docs/conformance-report.md from this run's outcomes. It only records: the claims fail the test
   * above. Formatted by prettier's API with the repository's config so that `prettier --check`
   * passes; in a child process, as prettier 3 loads itself by a dynamic ESM import, which jest's
   * module sandbox does not provide.
   */
  function writeReport(): void {
    const file = resolve(__dirname, '../../../docs/conformance-report.md');
    const markdown = conformanceReport(outcomes, failures, new Date().toISOString().slice(0, 10));
    const format = [
      "import { format, resolveConfig } from 'prettier';",
      "let text = ''; for await (const chunk of process.stdin) text += chunk;",
      'const config = (await resolveConfig(process.argv[1])) ?? {};',
      "process.stdout.write(await format(text, { ...config, parser: 'markdown' }));",
    ].join('\n');
    const formatted = execFileSync(process.execPath, ['--input-type=module', '-e', format, file], {
      input: markdown,
      cwd: resolve(__dirname, '../../..'),
      encoding: 'utf8',
    });
    writeFileSync(file, formatted);
  }

  /** Each supported profile: a resource claiming it is created, and read back claiming it. */
  async function exerciseProfiles(resource: CapabilityStatementRestResource): Promise<void> {
    for (const profile of resource.supportedProfile ?? []) {
      const claim = profileClaim(resource.type, unversioned(profile).split('/').pop()!);
      record(claim, false);
      const body = profiled(profile, examples, patientId);
      if (body?.resourceType !== resource.type) {
        failures.push(`${resource.type} supportedProfile ${profile}: no example to exercise it`);
        continue;
      }
      const created = await call('POST', resource.type, body);
      expectStatus(`${resource.type} create claiming ${profile}`, created.status, 201);
      if (created.status !== 201) {
        failures.push(`${resource.type} ${profile}: ${JSON.stringify(created.json)}`);
        continue;
      }
      const read = await call('GET', `${resource.type}/${String(created.json?.id)}`);
      const claimed = (read.json?.meta as { profile?: string[] } | undefined)?.profile ?? [];
      if (!claimed.includes(profile))
        failures.push(`${resource.type} ${profile}: read back claiming ${claimed.join(', ')}`);
      else outcomes.set(claim, true);
    }
  }

  /** Subscription has its own routes: create (handshake to the subscriber), read, $status, delete. */
  async function exerciseSubscription(resource: CapabilityStatementRestResource): Promise<void> {
    const interactions = new Set((resource.interaction ?? []).map((i) => i.code));
    for (const code of interactions)
      if (!['create', 'read', 'delete'].includes(code))
        failures.push(`Subscription ${code}: no check here — add one`);
    if (!interactions.has('create')) {
      failures.push('Subscription: no create claimed; this test cannot make one');
      return;
    }
    // One Subscription claiming every supported profile: created, and answered claiming them.
    const profiles = resource.supportedProfile ?? [];
    const created = await call('POST', 'Subscription', {
      resourceType: 'Subscription',
      meta: { profile: profiles },
      status: 'requested',
      reason: 'conformance',
      criteria: TASK_TOPIC,
      _criteria: {
        extension: [{ url: EXT.filterCriteria, valueString: `Task?patient=Patient/${patientId}` }],
      },
      channel: {
        type: 'rest-hook',
        endpoint: subscriber.url,
        payload: 'application/fhir+json',
        _payload: { extension: [{ url: EXT.payloadContent, valueCode: 'id-only' }] },
      },
    });
    expectStatus('Subscription create', created.status, 201);
    const id = created.json?.id as string | undefined;
    if (!id) return;
    if (created.json?.status !== 'active')
      failures.push(`Subscription create: ${String(created.json?.status)}, not active`);
    const answered = (created.json?.meta as { profile?: string[] } | undefined)?.profile ?? [];
    for (const profile of profiles) {
      const ok = answered.includes(profile) && created.json?.status === 'active';
      record(profileClaim('Subscription', unversioned(profile).split('/').pop()!), ok);
      if (!answered.includes(profile))
        failures.push(`Subscription supportedProfile ${profile}: not what the server answers`);
    }
    if (interactions.has('read'))
      expectStatus('Subscription read', (await call('GET', `Subscription/${id}`)).status, 200);
    for (const operation of resource.operation ?? []) {
      if (operation.name !== 'status') {
        failures.push(`Subscription operation ${operation.name}: no check here — add one`);
        continue;
      }
      const status = await call('GET', `Subscription/${id}/$status`);
      expectStatus('Subscription $status', status.status, 200);
      const entry = (status.json?.entry as Array<{ resource: Resource }> | undefined)?.[0];
      if (entry?.resource.resourceType !== 'Parameters')
        failures.push('Subscription $status: no SubscriptionStatus Parameters');
    }
    if (interactions.has('delete')) {
      expectStatus(
        'Subscription delete',
        (await call('DELETE', `Subscription/${id}`)).status,
        200,
        204,
      );
      expectStatus(
        'Subscription read after delete',
        (await call('GET', `Subscription/${id}`)).status,
        404,
        410,
      );
    }
  }

  async function exercise(resource: CapabilityStatementRestResource): Promise<void> {
    const type = resource.type;
    const interactions = new Set((resource.interaction ?? []).map((i) => i.code));
    if (type === 'Subscription') return exerciseSubscription(resource);
    await exerciseProfiles(resource);
    for (const operation of resource.operation ?? [])
      failures.push(`${type} operation ${operation.name}: no check here — add one`);
    let id: string | undefined;
    if (type === 'AuditEvent') {
      // Written by the server only: the Patient created above left one.
      const search = await call('GET', 'AuditEvent?_count=1');
      expectStatus('AuditEvent search-type', search.status, 200);
      const entry = (search.json?.entry as Array<{ resource: Resource }> | undefined)?.[0];
      id = entry?.resource.id;
      if (!id) failures.push('AuditEvent: search found none to read');
    } else {
      const body = sample(type, patientId);
      if (!body) {
        failures.push(`${type}: claimed, but this test has no sample to exercise it with`);
        return;
      }
      if (interactions.has('create')) {
        const created = await call('POST', type, body);
        expectStatus(`${type} create`, created.status, 201);
        if (created.status !== 201)
          failures.push(`${type} create: ${JSON.stringify(created.json)}`);
        id = created.json?.id as string | undefined;
      } else failures.push(`${type}: no create claimed; this test cannot make one`);
    }
    if (!id) return;

    if (interactions.has('read'))
      expectStatus(`${type} read`, (await call('GET', `${type}/${id}`)).status, 200);
    if (interactions.has('vread'))
      expectStatus(`${type} vread`, (await call('GET', `${type}/${id}/_history/1`)).status, 200);
    if (interactions.has('update')) {
      const current = (await call('GET', `${type}/${id}`)).json!;
      const updated = await call(
        'PUT',
        `${type}/${id}`,
        { ...current, language: 'en' },
        {
          'if-match': `W/"${(current.meta as { versionId: string }).versionId}"`,
        },
      );
      expectStatus(`${type} update`, updated.status, 200);
    }
    if (interactions.has('patch')) {
      const current = (await call('GET', `${type}/${id}`)).json!;
      const response = await fetch(`${api.baseUrl}/${type}/${id}`, {
        method: 'PATCH',
        headers: {
          'X-Dev-Actor': `platform:${PLATFORM}`,
          'content-type': 'application/json-patch+json',
          'if-match': `W/"${(current.meta as { versionId: string }).versionId}"`,
        },
        body: JSON.stringify([{ op: 'add', path: '/language', value: 'es' }]),
      });
      expectStatus(`${type} patch`, response.status, 200);
    }
    if (interactions.has('history-instance'))
      expectStatus(
        `${type} history-instance`,
        (await call('GET', `${type}/${id}/_history`)).status,
        200,
      );
    if (interactions.has('history-type'))
      expectStatus(`${type} history-type`, (await call('GET', `${type}/_history`)).status, 200);
    if (interactions.has('search-type')) {
      const byId = await call('GET', `${type}?_id=${id}`);
      expectStatus(`${type} search-type`, byId.status, 200);
      const ids = ((byId.json?.entry as Array<{ resource: Resource }>) ?? []).map(
        (e) => e.resource.id,
      );
      if (!ids.includes(id)) failures.push(`${type} search-type: _id did not find ${id}`);
      record(`${type} search-type`, ids.includes(id));
      for (const param of resource.searchParam ?? []) {
        const value = searchValue(type, param.name, id);
        if (value === undefined) {
          failures.push(`${type} search ${param.name}: type ${param.type} not exercised`);
          continue;
        }
        const search = await call('GET', `${type}?${param.name}=${encodeURIComponent(value)}`);
        expectStatus(`${type} search ${param.name} (${param.type})`, search.status, 200);
        const doc = param.documentation ?? '';
        if (doc.includes(CHAINABLE)) {
          // Each target type the documentation names, chained on its _id.
          const targets = doc
            .slice(doc.indexOf('Type one of ') + 12)
            .split(' (')[0]
            .split(', ');
          for (const target of targets)
            expectStatus(
              `${type} chain ${param.name}:${target}._id`,
              (await call('GET', `${type}?${param.name}:${target}._id=${id}`)).status,
              200,
            );
        }
        if (doc.includes(SORTABLE))
          for (const key of [param.name, `-${param.name}`])
            expectStatus(
              `${type} _sort=${key}`,
              (await call('GET', `${type}?_id=${id}&_sort=${encodeURIComponent(key)}`)).status,
              200,
            );
      }
      if (resource.documentation?.includes(KEYSET_PAGING)) {
        // A page of one: the self, first and last links; the last link's cursor reads back to
        // the one match; a cursor the server did not write is a 400.
        const page = await call('GET', `${type}?_id=${id}&_count=1`);
        const links = (page.json?.link as Array<{ relation: string; url: string }>) ?? [];
        const relations = links.map((l) => l.relation);
        for (const relation of ['self', 'first', 'last'])
          if (!relations.includes(relation))
            failures.push(`${type} keyset paging: no ${relation} link`);
        const last = links.find((l) => l.relation === 'last');
        if (last) {
          const query = new URL(last.url).search;
          const answer = await call('GET', `${type}${query}`);
          expectStatus(`${type} keyset paging: last link`, answer.status, 200);
          const found = ((answer.json?.entry as Array<{ resource: Resource }>) ?? []).map(
            (e) => e.resource.id,
          );
          if (!found.includes(id)) failures.push(`${type} keyset paging: last link lost ${id}`);
          if (!query.includes('_cursor=')) failures.push(`${type} keyset paging: no _cursor`);
        }
        expectStatus(
          `${type} keyset paging: a forged cursor`,
          (await call('GET', `${type}?_id=${id}&_cursor=forged`)).status,
          400,
        );
      }
      if (resource.documentation?.includes(LAST_UPDATED_POLLING))
        expectStatus(
          `${type} _lastUpdated polling`,
          (await call('GET', `${type}?_id=${id}&_lastUpdated=gt2000-01-01&_sort=_lastUpdated`))
            .status,
          200,
        );
      if (resource.documentation?.includes(HISTORY_POLLING)) {
        // A poll of one version per page: it says up to when it read, and pages by cursor.
        const poll = await call('GET', `${type}/_history?_since=2000-01-01T00:00:00Z&_count=1`);
        expectStatus(`${type} _history polling`, poll.status, 200);
        const meta = poll.json?.meta as { lastUpdated?: string } | undefined;
        if (!meta?.lastUpdated) failures.push(`${type} _history polling: no meta.lastUpdated`);
        const links = (poll.json?.link as Array<{ relation: string; url: string }>) ?? [];
        const last = links.find((l) => l.relation === 'last');
        if (!last?.url.includes('_cursor=')) failures.push(`${type} _history paging: no _cursor`);
      }
      if (resource.documentation?.includes(ITERATE)) {
        for (const include of resource.searchInclude ?? [])
          expectStatus(
            `${type} _include:iterate=${include}`,
            (await call('GET', `${type}?_id=${id}&_include:iterate=${encodeURIComponent(include)}`))
              .status,
            200,
          );
        for (const include of resource.searchRevInclude ?? [])
          expectStatus(
            `${type} _revinclude:iterate=${include}`,
            (
              await call(
                'GET',
                `${type}?_id=${id}&_revinclude:iterate=${encodeURIComponent(include)}`,
              )
            ).status,
            200,
          );
      }
      for (const include of resource.searchInclude ?? [])
        expectStatus(
          `${type} _include=${include}`,
          (await call('GET', `${type}?_id=${id}&_include=${encodeURIComponent(include)}`)).status,
          200,
        );
      if (resource.documentation?.includes('_has:'))
        // Reverse chaining through every parameter that may reference the type.
        for (const include of resource.searchRevInclude ?? [])
          expectStatus(
            `${type} _has:${include}:_id`,
            (await call('GET', `${type}?_has:${include}:_id=${id}`)).status,
            200,
          );
      for (const include of resource.searchRevInclude ?? [])
        expectStatus(
          `${type} _revinclude=${include}`,
          (await call('GET', `${type}?_id=${id}&_revinclude=${encodeURIComponent(include)}`))
            .status,
          200,
        );
    }
    if (resource.conditionalRead === 'full-support') {
      const current = await call('GET', `${type}/${id}`);
      const version = (current.json?.meta as { versionId?: string } | undefined)?.versionId;
      expectStatus(
        `${type} conditionalRead (If-None-Match)`,
        (await call('GET', `${type}/${id}`, undefined, { 'if-none-match': `W/"${version}"` }))
          .status,
        304,
      );
      expectStatus(
        `${type} conditionalRead (If-Modified-Since)`,
        (
          await call('GET', `${type}/${id}`, undefined, {
            'if-modified-since': new Date(Date.now() + 60_000).toUTCString(),
          })
        ).status,
        304,
      );
    } else if (resource.conditionalRead && resource.conditionalRead !== 'not-supported') {
      failures.push(`${type}: conditionalRead ${resource.conditionalRead} has no check`);
    }
    if (resource.conditionalCreate) {
      const again = await call('POST', type, sample(type, patientId), {
        'if-none-exist': `_id=${id}`,
      });
      expectStatus(`${type} conditionalCreate (one match)`, again.status, 200);
    }
    if (resource.updateCreate) {
      const newId = randomUUID();
      const created = await call('PUT', `${type}/${newId}`, {
        ...sample(type, patientId),
        id: newId,
      });
      expectStatus(`${type} updateCreate`, created.status, 201);
    }
    if (resource.conditionalUpdate) {
      // One match: that resource is updated (200), whatever id the body carries not.
      const body = { ...sample(type, patientId) } as Record<string, unknown>;
      delete body.id;
      // With If-Match, which a Task update requires.
      const current = await call('GET', `${type}/${id}`);
      const version = (current.json?.meta as { versionId?: string } | undefined)?.versionId;
      const updated = await call('PUT', `${type}?_id=${id}`, body, {
        'if-match': `W/"${version}"`,
      });
      expectStatus(`${type} conditionalUpdate (one match)`, updated.status, 200);
    } else if (type !== 'AuditEvent') {
      const refused = await call('PUT', `${type}?_id=${id}`, sample(type, patientId));
      if (refused.status < 400 || refused.status >= 500)
        failures.push(`${type}: conditional update not claimed but answered ${refused.status}`);
    }
    if (resource.conditionalDelete === 'single' || resource.conditionalDelete === 'multiple') {
      const made = await call('POST', type, sample(type, patientId));
      expectStatus(`${type} create (for conditionalDelete)`, made.status, 201);
      const deleted = await call('DELETE', `${type}?_id=${made.json?.id}`);
      expectStatus(`${type} conditionalDelete`, deleted.status, 200, 204);
      expectStatus(
        `${type} read after conditionalDelete`,
        (await call('GET', `${type}/${made.json?.id}`)).status,
        410,
      );
    } else if (interactions.has('delete')) {
      failures.push(`${type}: delete claimed but conditional delete not`);
    }
    if (interactions.has('delete')) {
      expectStatus(`${type} delete`, (await call('DELETE', `${type}/${id}`)).status, 200, 204);
      expectStatus(`${type} read after delete`, (await call('GET', `${type}/${id}`)).status, 410);
    }
  }
});
