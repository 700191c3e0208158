import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  SmartBackendTokenSource,
  type Bundle,
  type FhirApiClient,
  type Resource,
} from '@carerelay/fhir-client';
import {
  fhirClientFor,
  newKeyPair,
  SCOPES_BY_ROLE,
  tokenUrlOf,
  type DemoClient,
} from '../../tools/simulator/src/credentials';
import { demoDirectory } from '../../tools/simulator/src/demo-network';
import { ReferralGenerator } from '../../tools/simulator/src/referral-generator';
import { SDOHCC_TEMPORARY_CODES } from '../../tools/simulator/src/cbo-bots';
import {
  loadNetworkModule,
  sleep,
  waitFor,
  type Network,
  idFromLocation,
} from '../support/started-network';

/**
 * The network started exactly as `npm start` starts it (infra/lib/network.mjs, without the
 * simulator), then driven only from outside: fhir-kit-client (libs/fhir-client) as the hospitals'
 * EHRs, the CBOs and the coordinator, plain HTTP for health and metrics.
 */

const PORT_BASE = Number(process.env.CARERELAY_E2E_PORT_BASE ?? 18080);
const ROOT = path.join(__dirname, '..', '..');

let network: Network;
let ehr: FhirApiClient;
let coordinator: FhirApiClient;
let generator: ReferralGenerator;
const cbo = new Map<string, FhirApiClient>();
/** Every Patient the tests sent: none of their names or birth dates may reach a log. */
const sentPatients: Resource[] = [];

beforeAll(async () => {
  const { startNetwork } = loadNetworkModule();
  network = await startNetwork({
    skipBacklog: true,
    owner: `e2e:${process.pid}`,
    portBase: PORT_BASE,
    stateDir: path.join(ROOT, '.carerelay', 'e2e'),
    quiet: true,
    log: (line: string) => process.stderr.write(`[e2e network] ${line}\n`),
  });
  const byRole = (role: string) => network.clients.filter((c) => c.role === role);
  const northside = network.clients.find((c) => c.organizationId === 'hosp-northside')!;
  ehr = fhirClientFor(northside, network.fhirBaseUrl);
  coordinator = fhirClientFor(byRole('coordinator')[0], network.fhirBaseUrl);
  for (const client of byRole('cbo')) {
    cbo.set(client.organizationId, fhirClientFor(client, network.fhirBaseUrl));
  }
  generator = new ReferralGenerator(demoDirectory(), {
    hospitalIds: ['hosp-northside'],
    platformOrganizationId: 'carerelay-platform',
    seed: 20_240_611,
  });
}, 300_000);

afterAll(async () => {
  // Stops the apps; the broker and database stay to the jest global setup's owner.
  await network?.stop({ stopInfrastructure: false });
}, 60_000);

/** A fresh W3C traceparent: the correlation id an EHR may send with its request. */
const newTraceparent = () =>
  `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;

/** Posts a transaction Bundle as `client` over plain HTTP (SMART token), with a traceparent. */
async function postTransaction(
  client: DemoClient,
  bundle: Resource,
  traceparent: string,
): Promise<{ bundle: Bundle; traceparent: string | null }> {
  const token = await new SmartBackendTokenSource({
    tokenUrl: tokenUrlOf(network.fhirBaseUrl),
    clientId: client.clientId,
    privateJwk: client.privateJwk,
    alg: client.alg,
    scope: SCOPES_BY_ROLE[client.role],
  }).token();
  const response = await fetch(network.fhirBaseUrl, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/fhir+json',
      accept: 'application/fhir+json',
      traceparent,
    },
    body: JSON.stringify(bundle),
  });
  if (response.status !== 200) {
    throw new Error(
      `transaction: HTTP ${response.status} ${(await response.text()).slice(0, 500)}`,
    );
  }
  return {
    bundle: (await response.json()) as Bundle,
    traceparent: response.headers.get('traceparent'),
  };
}

/** Sends one generated referral as the EHR; returns the source Task id. */
async function sendReferral(
  options: {
    withConsent?: boolean;
    traceparent?: string;
    as?: { client: FhirApiClient; generator: ReferralGenerator };
  } = {},
): Promise<{
  taskId: string;
  patientId: string;
  consentId?: string;
  consent?: Resource;
  answeredTraceparent?: string | null;
}> {
  const source = options.as?.generator ?? generator;
  const client = options.as?.client ?? ehr;
  let referral = source.next();
  // Food, housing or transportation: every ZIP of the sample region has a service for them.
  while (!['food-insecurity', 'housing-instability'].includes(referral.category))
    referral = source.next();
  const bundle = structuredClone(referral.bundle);
  for (const entry of bundle.entry as Array<{ resource: Resource }>) {
    if (entry.resource.resourceType === 'Patient') sentPatients.push(entry.resource);
  }
  let consent: Resource | undefined;
  if (options.withConsent === false) {
    const entries = bundle.entry as Array<{ resource: Resource }>;
    const index = entries.findIndex((e) => e.resource.resourceType === 'Consent');
    consent = entries.splice(index, 1)[0].resource;
  }
  let response: Bundle;
  let answeredTraceparent: string | null | undefined;
  if (options.traceparent && !options.as) {
    const northside = network.clients.find((c) => c.organizationId === 'hosp-northside')!;
    const posted = await postTransaction(northside, bundle, options.traceparent);
    response = posted.bundle;
    answeredTraceparent = posted.traceparent;
  } else {
    response = await client.transaction(bundle);
  }
  return {
    taskId: idFromLocation(response, 'Task'),
    patientId: idFromLocation(response, 'Patient'),
    consentId: consent ? undefined : idFromLocation(response, 'Consent'),
    consent,
    answeredTraceparent,
  };
}

/** The CBO Task of a referral (coordinator's view), once the referral-service created it. */
function cboTaskOf(sourceTaskId: string, notOwner?: string): Promise<Resource> {
  return waitFor(`a CBO Task partOf Task/${sourceTaskId}`, async () => {
    const found = await coordinator.search('Task', { 'part-of': `Task/${sourceTaskId}` });
    return (found.entry ?? [])
      .map((e) => e.resource!)
      .find(
        (t) =>
          t.status === 'requested' &&
          (!notOwner || t.owner?.reference !== `Organization/${notOwner}`),
      );
  });
}

const ownerOf = (task: Resource): string => task.owner.reference.split('/')[1];

/** As the CBO: a Procedure, then the Task completed with it as its resulting activity. */
async function completeWithProcedure(
  client: FhirApiClient,
  cboTask: Resource,
  focus: Resource,
): Promise<Resource> {
  const procedure = await client.create<Resource>({
    resourceType: 'Procedure',
    status: 'completed',
    code: focus.code,
    subject: cboTask.for,
    performedDateTime: new Date().toISOString(),
  });
  await client.updateWithIfMatch('Task', cboTask.id!, (task) => {
    task.status = 'completed';
    task.output = [
      {
        type: { coding: [{ system: SDOHCC_TEMPORARY_CODES, code: 'resulting-activity' }] },
        valueReference: { reference: `Procedure/${procedure.id}` },
      },
    ];
    return task;
  });
  return procedure;
}

async function setStatus(client: FhirApiClient, taskId: string, status: string, reason?: string) {
  return client.updateWithIfMatch('Task', taskId, (task) => {
    task.status = status;
    if (reason) task.statusReason = { text: reason };
    return task;
  });
}

describe('the network as npm start runs it', () => {
  it('started every built app, each ready', () => {
    const notReady = network.processes.filter((p) => p.status !== 'ready');
    expect(notReady.map((p) => `${p.name}: ${p.status}`)).toEqual([]);
    expect(network.processes.map((p) => p.app)).toEqual(
      expect.arrayContaining([
        'fhir-api',
        'referral-service',
        'consent-service',
        'followup-service',
        'analytics-service',
      ]),
    );
  });

  it('every service answers /health/live, /health/ready and /metrics on its management port only', async () => {
    // The stand-in EHR server is a plain FHIR server, not a CareRelay service.
    const services = network.processes.filter((p) => p.app !== 'ehr-server');
    const problems: string[] = [];
    for (const p of services) {
      if (!p.managementUrl || p.managementUrl === p.url) {
        problems.push(`${p.name}: no management listener of its own`);
        continue;
      }
      for (const route of ['/health/live', '/health/ready', '/metrics']) {
        const response = await fetch(`${p.managementUrl}${route}`).catch(() => undefined);
        if (response?.status !== 200) problems.push(`${p.name} ${route}: ${response?.status}`);
        else if (route === '/metrics') {
          const text = await response.text();
          if (!text.includes('process_resident_memory_bytes'))
            problems.push(`${p.name} /metrics: no process metrics`);
        }
        const onApi = await fetch(`${p.url}${route}`).catch(() => undefined);
        if (onApi?.status !== 404) problems.push(`${p.name} API port ${route}: ${onApi?.status}`);
      }
    }
    expect(problems).toEqual([]);
  }, 60_000);

  it('serves SMART Backend Services discovery', async () => {
    const response = await fetch(`${network.fhirBaseUrl}/.well-known/smart-configuration`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { token_endpoint: string };
    expect(body.token_endpoint).toBe(`${network.fhirBaseUrl}/auth/token`);
  });
});

describe('closed loop, driven from outside', () => {
  it('EHR Bundle -> routed to a CBO -> accepted -> completed with a Procedure -> source Task completed', async () => {
    const { taskId } = await sendReferral();
    const cboTask = await cboTaskOf(taskId);
    const org = ownerOf(cboTask);
    const client = cbo.get(org)!;
    expect(client).toBeDefined();

    // The CBO sees its Task and the filler-order ServiceRequest it is based on.
    const mine = await client.search('Task', { owner: `Organization/${org}`, _id: cboTask.id! });
    expect(mine.entry?.map((e) => e.resource!.id)).toEqual([cboTask.id]);
    const focus = await client.read('ServiceRequest', cboTask.focus.reference.split('/')[1]);
    expect(focus.intent).toBe('filler-order');

    await setStatus(client, cboTask.id!, 'accepted');
    await waitFor('the source Task accepted', async () => {
      const source = await ehr.read('Task', taskId);
      return source.status === 'accepted' ? source : undefined;
    });
    await setStatus(client, cboTask.id!, 'in-progress');
    const procedure = await completeWithProcedure(client, cboTask, focus);

    const source = await waitFor('the source Task completed', async () => {
      const task = await ehr.read('Task', taskId);
      return task.status === 'completed' ? task : undefined;
    });
    expect(JSON.stringify(source.output)).toContain(`Procedure/${procedure.id}`);
    const serviceRequest = await ehr.read('ServiceRequest', source.focus.reference.split('/')[1]);
    expect(serviceRequest.status).toBe('completed');
  }, 240_000);

  it('a CBO rejects for lack of capacity: the referral is re-routed to another CBO', async () => {
    const { taskId } = await sendReferral();
    const first = await cboTaskOf(taskId);
    const firstOrg = ownerOf(first);
    await setStatus(cbo.get(firstOrg)!, first.id!, 'rejected', 'No capacity');

    const second = await cboTaskOf(taskId, firstOrg);
    expect(ownerOf(second)).not.toBe(firstOrg);
    expect(second.id).not.toBe(first.id);
    // The first CBO's Task stays rejected; the source Task stays open for the next CBO.
    expect((await coordinator.read('Task', first.id!)).status).toBe('rejected');
    const source = await ehr.read('Task', taskId);
    expect(['completed', 'failed', 'cancelled', 'rejected']).not.toContain(source.status);

    // The second CBO closes the loop.
    const client = cbo.get(ownerOf(second))!;
    await setStatus(client, second.id!, 'accepted');
    await setStatus(client, second.id!, 'in-progress');
    const focus = await client.read('ServiceRequest', second.focus.reference.split('/')[1]);
    const procedure = await completeWithProcedure(client, second, focus);
    const done = await waitFor('the source Task completed by the second CBO', async () => {
      const task = await ehr.read('Task', taskId);
      return task.status === 'completed' ? task : undefined;
    });
    expect(JSON.stringify(done.output)).toContain(`Procedure/${procedure.id}`);
  }, 240_000);

  it('without consent nothing reaches a CBO; the consent arrives and routing proceeds', async () => {
    const { taskId, patientId, consent } = await sendReferral({ withConsent: false });
    // Give the workflow time to see the referral: no CBO Task may appear without consent.
    await sleep(8_000);
    const early = await coordinator.search('Task', { 'part-of': `Task/${taskId}` });
    expect(early.entry ?? []).toHaveLength(0);

    await ehr.create({ ...consent!, patient: { reference: `Patient/${patientId}` } });
    const cboTask = await cboTaskOf(taskId);
    expect(cbo.has(ownerOf(cboTask))).toBe(true);
  }, 240_000);
});

const urlOf = (app: string): string => {
  const proc = network.processes.find((p) => p.app === app);
  if (!proc) throw new Error(`${app} is not running`);
  return proc.url;
};

/** The JSON lines of a process's log (<stateDir>/logs/<name>.log) that contain `needle`. */
function logLines(name: string, needle: string): Array<Record<string, unknown>> {
  const file = path.join(network.stateDir, 'logs', `${name.replace(/:/g, '-')}.log`);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const lines: Array<Record<string, unknown>> = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{') || !line.includes(needle)) continue;
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a line still being written
    }
  }
  return lines;
}

describe('one referral followed through the logs by its correlation id', () => {
  it('the EHR traceparent comes back as a header and is logged with the referral by fhir-api, referral-service, consent-service and followup-service', async () => {
    const traceparent = newTraceparent();
    const { taskId, answeredTraceparent } = await sendReferral({ traceparent });
    expect(answeredTraceparent).toBe(traceparent);
    // The routing accepts the source Task inside its transaction Bundle, whose request line names
    // no resource; the CBO starting work makes the platform update the source Task on its own.
    const cboTask = await cboTaskOf(taskId);
    const client = cbo.get(ownerOf(cboTask))!;
    await setStatus(client, cboTask.id!, 'accepted');
    await setStatus(client, cboTask.id!, 'in-progress');
    await waitFor('the source Task in progress', async () => {
      const source = await ehr.read('Task', taskId);
      return source.status === 'in-progress' ? source : undefined;
    });

    const checks: Record<string, () => boolean> = {
      'fhir-api: the EHR transaction with its client and traceparent': () =>
        logLines('fhir-api', traceparent).some(
          (l) =>
            l.msg === 'request' &&
            l.method === 'POST' &&
            l.status === 200 &&
            l.organization === 'hosp-northside' &&
            typeof l.client === 'string',
        ),
      'fhir-api: the platform updating the source Task (its id in the path)': () =>
        logLines('fhir-api', `Task/${taskId}`).some(
          (l) =>
            l.msg === 'request' &&
            l.resource === `Task/${taskId}` &&
            l.organization === 'carerelay-platform',
        ),
      'referral-service: the Task change handled, with the traceparent': () =>
        logLines('referral-service', traceparent).some((l) => l.subject === `Task/${taskId}`),
      'consent-service: a referral event handled, with the traceparent': () =>
        logLines('consent-service', traceparent).some((l) => l.subject === taskId),
      'followup-service: a referral event handled, with the traceparent': () =>
        logLines('followup-service', traceparent).some((l) => l.subject === taskId),
    };
    let missing = Object.keys(checks);
    const deadline = Date.now() + 60_000;
    while (missing.length > 0 && Date.now() < deadline) {
      missing = missing.filter((name) => !checks[name]());
      if (missing.length > 0) await sleep(1000);
    }
    expect(missing).toEqual([]);
  }, 180_000);
});

/** Registers a SMART client of a hospital of its own with the CLI, as an operator would. */
async function registerEhrClient(organizationId: string): Promise<DemoClient> {
  const keys = await newKeyPair(`${organizationId}-${Date.now().toString(36)}`);
  const dir = path.join(network.stateDir, 'jwks');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${organizationId}.jwks.json`);
  fs.writeFileSync(file, `${JSON.stringify(keys.publicJwks, null, 2)}\n`);
  const child = spawn(
    process.execPath,
    ['infra/bin/cli.mjs', 'clients:add', '--org', organizationId, '--role', 'ehr', '--jwks', file],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        DATABASE_URL: network.infraEnv.DATABASE_URL,
        FHIR_BASE_URL: network.fhirBaseUrl,
      },
    },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`clients:add exited with ${code}: ${err}`);
  const added = JSON.parse(out) as { client_id: string };
  return {
    clientId: added.client_id,
    organizationId,
    name: 'E2E Deadline Hospital',
    role: 'ehr',
    alg: 'ES384',
    privateJwk: keys.privateJwk,
    publicJwks: keys.publicJwks,
  };
}

describe('follow-up deadlines and consent, driven from outside', () => {
  // A hospital of its own, in a network of its own whose CBOs must accept within 5 s: the other
  // tests' referrals keep the default policy.
  const DEADLINE_HOSPITAL = 'e2e-deadline-hospital';
  const NETWORK_ID = 'e2e-deadlines';

  it('no CBO accepts within the acceptance deadline: the referral is re-routed to another CBO', async () => {
    const followup = urlOf('followup-service');
    const put = await network.platformTokens.fetch(`${followup}/policies/${NETWORK_ID}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        timeZone: 'UTC',
        acceptance: { within: 'PT5S', calendar: 'calendar' },
        closure: { within: 'P30D' },
        organizations: [DEADLINE_HOSPITAL],
      }),
    });
    expect(put.status).toBe(200);
    try {
      const hospital = fhirClientFor(
        await registerEhrClient(DEADLINE_HOSPITAL),
        network.fhirBaseUrl,
      );
      const referrals = new ReferralGenerator(demoDirectory(), {
        hospitalIds: [DEADLINE_HOSPITAL],
        platformOrganizationId: 'carerelay-platform',
        seed: 20_240_612,
      });
      const { taskId } = await sendReferral({ as: { client: hospital, generator: referrals } });
      const first = await cboTaskOf(taskId);
      const firstOrg = ownerOf(first);

      // Nobody answers. 5 s after routing the follow-up service announces the breach; the
      // referral service withdraws the first CBO's Task and routes to the next CBO.
      const second = await cboTaskOf(taskId, firstOrg);
      expect(ownerOf(second)).not.toBe(firstOrg);
      const withdrawn = await waitFor('the first CBO Task withdrawn', async () => {
        const task = await coordinator.read('Task', first.id!);
        return task.status !== 'requested' ? task : undefined;
      });
      expect(withdrawn.status).toBe('cancelled');
      const timers = (await (
        await network.platformTokens.fetch(`${followup}/referrals/${taskId}/timers`)
      ).json()) as Array<{
        kind: string;
        status: string;
        networkId: string;
      }>;
      expect(timers).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ kind: 'acceptance', status: 'fired', networkId: NETWORK_ID }),
        ]),
      );
      // The source Task is still open for the next CBO.
      const source = await hospital.read('Task', taskId);
      expect(['completed', 'failed', 'cancelled', 'rejected']).not.toContain(source.status);
    } finally {
      await network.platformTokens.fetch(`${followup}/policies/${NETWORK_ID}`, {
        method: 'DELETE',
      });
    }
  }, 180_000);

  it('the patient revokes consent after the CBO accepted: the CBO Task is cancelled, the referral waits for consent', async () => {
    const { taskId, consentId } = await sendReferral();
    const cboTask = await cboTaskOf(taskId);
    const client = cbo.get(ownerOf(cboTask))!;
    await setStatus(client, cboTask.id!, 'accepted');
    await waitFor('the source Task accepted', async () => {
      const source = await ehr.read('Task', taskId);
      return source.status === 'accepted' ? source : undefined;
    });

    await ehr.updateWithIfMatch('Consent', consentId!, (consent) => {
      consent.status = 'inactive';
      return consent;
    });
    const cancelled = await waitFor('the CBO Task cancelled', async () => {
      const task = await coordinator.read('Task', cboTask.id!);
      return task.status === 'cancelled' ? task : undefined;
    });
    expect(cancelled.statusReason?.text).toMatch(/consent/i);
    const source = await waitFor('the source Task on hold', async () => {
      const task = await ehr.read('Task', taskId);
      return task.status === 'on-hold' ? task : undefined;
    });
    expect(JSON.stringify(source.businessStatus ?? source.statusReason)).toMatch(/consent/i);
  }, 180_000);
});

describe('logs hold no patient data', () => {
  it('no name or birth date of any patient the tests sent is in any CareRelay log line', () => {
    const logs = path.join(network.stateDir, 'logs');
    // The stand-in EHR servers are the hospitals' own systems, not CareRelay's.
    const files = fs
      .readdirSync(logs)
      .filter((f) => f.endsWith('.log') && !f.startsWith('ehr-server'));
    const text = new Map(files.map((f) => [f, fs.readFileSync(path.join(logs, f), 'utf8')]));
    // The capture works: the referrals sent are in the logs, by their ids.
    expect(files).toEqual(expect.arrayContaining(['fhir-api.log', 'referral-service.log']));
    expect(text.get('fhir-api.log')).toMatch(/"path":"\/fhir\//);
    expect(sentPatients.length).toBeGreaterThan(3);
    const secrets = sentPatients.flatMap((patient) => [
      ...((patient.name ?? []) as Array<{ family?: string; given?: string[] }>).flatMap((n) => [
        ...(n.family ? [n.family] : []),
        ...(n.given ?? []).filter((g) => g.length > 3),
      ]),
      ...(patient.birthDate ? [patient.birthDate as string] : []),
      ...((patient.telecom ?? []) as Array<{ value?: string }>).flatMap((t) =>
        t.value ? [t.value] : [],
      ),
    ]);
    expect(secrets.length).toBeGreaterThan(sentPatients.length);
    const found: string[] = [];
    for (const [file, content] of text) {
      for (const secret of secrets) {
        if (new RegExp(`\\b${secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`).test(content))
          found.push(`${file}: ${secret}`);
      }
    }
    expect(found).toEqual([]);
  });
});
