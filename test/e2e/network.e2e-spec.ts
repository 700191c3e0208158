import path from 'node:path';
import type { Bundle, FhirApiClient, Resource } from '@carerelay/fhir-client';
import { fhirClientFor, type DemoClient } from '../../apps/simulator/src/credentials';
import { demoDirectory } from '../../apps/simulator/src/demo-network';
import { ReferralGenerator } from '../../apps/simulator/src/referral-generator';
import { SDOHCC_TEMPORARY_CODES } from '../../apps/simulator/src/cbo-bots';

/**
 * The network started exactly as `npm start` starts it (infra/lib/network.mjs, without the
 * simulator), then driven only from outside: fhir-kit-client (libs/fhir-client) as the hospitals'
 * EHRs, the CBOs and the coordinator, plain HTTP for health and metrics.
 */

interface NetworkProcess {
  name: string;
  app: string;
  url: string;
  port: number;
  status: string;
  health?: string;
}
interface Network {
  fhirBaseUrl: string;
  processes: NetworkProcess[];
  problems: string[];
  clients: DemoClient[];
  stop: (options?: { stopInfrastructure?: boolean }) => Promise<unknown>;
}
interface NetworkModule {
  startNetwork: (options: Record<string, unknown>) => Promise<Network>;
}

// infra/lib/network.mjs is an ES module: load it with Node's own require (>= 20.19 loads ESM),
// not jest's, the way libs/fhir-client loads fhir-kit-client.
function loadNetworkModule(): NetworkModule {
  const builtin = (
    process as unknown as { getBuiltinModule: (id: string) => typeof import('node:module') }
  ).getBuiltinModule('node:module');
  return builtin.createRequire(__filename)(
    path.join(__dirname, '..', '..', 'infra', 'lib', 'network.mjs'),
  ) as NetworkModule;
}

const PORT_BASE = Number(process.env.CARERELAY_E2E_PORT_BASE ?? 18080);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 90_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(500);
  }
  throw new Error(
    `timed out after ${timeoutMs / 1000} s waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`,
  );
}

const idFromLocation = (bundle: Bundle, type: string): string => {
  for (const entry of bundle.entry ?? []) {
    const location = (entry as { response?: { location?: string } }).response?.location;
    const match = location?.match(new RegExp(`${type}/([^/]+)`));
    if (match) return match[1];
  }
  throw new Error(`no ${type} in the transaction response`);
};

let network: Network;
let ehr: FhirApiClient;
let coordinator: FhirApiClient;
let generator: ReferralGenerator;
const cbo = new Map<string, FhirApiClient>();

beforeAll(async () => {
  const { startNetwork } = loadNetworkModule();
  network = await startNetwork({
    owner: `e2e:${process.pid}`,
    portBase: PORT_BASE,
    stateDir: path.join(__dirname, '..', '..', '.carerelay', 'e2e'),
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

/** Sends one generated referral as the EHR; returns the source Task id. */
async function sendReferral(options: { withConsent?: boolean } = {}): Promise<{
  taskId: string;
  patientId: string;
  consent?: Resource;
}> {
  let referral = generator.next();
  // Food, housing or transportation: every ZIP of the sample region has a service for them.
  while (!['food-insecurity', 'housing-instability'].includes(referral.category))
    referral = generator.next();
  const bundle = structuredClone(referral.bundle);
  let consent: Resource | undefined;
  if (options.withConsent === false) {
    const entries = bundle.entry as Array<{ resource: Resource }>;
    const index = entries.findIndex((e) => e.resource.resourceType === 'Consent');
    consent = entries.splice(index, 1)[0].resource;
  }
  const response = await ehr.transaction(bundle);
  return {
    taskId: idFromLocation(response, 'Task'),
    patientId: idFromLocation(response, 'Patient'),
    consent,
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
      ]),
    );
  });

  it('every service answers /health/live, /health/ready and /metrics', async () => {
    // The stand-in EHR server is a plain FHIR server, not a CareRelay service.
    const services = network.processes.filter((p) => p.app !== 'ehr-server');
    const problems: string[] = [];
    for (const p of services) {
      for (const route of ['/health/live', '/health/ready', '/metrics']) {
        const response = await fetch(`${p.url}${route}`).catch(() => undefined);
        if (response?.status !== 200) problems.push(`${p.name} ${route}: ${response?.status}`);
        else if (route === '/metrics') {
          const text = await response.text();
          if (!text.includes('process_resident_memory_bytes'))
            problems.push(`${p.name} /metrics: no process metrics`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

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
