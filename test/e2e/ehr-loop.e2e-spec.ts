import { spawn } from 'node:child_process';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { TOPICS } from '@carerelay/contracts';
import { FhirApiClient, type Bundle, type Resource } from '@carerelay/fhir-client';
import { fhirClientFor } from '../../tools/simulator/src/credentials';
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
 * Closing the loop in the hospitals' own EHR servers, on the network started exactly as
 * `npm start` starts it (infra/lib/network.mjs, no simulator): South Shore's referral is placed on
 * its stand-in EHR server (Medplum) only, pulled by the ehr-connector, routed by the real
 * referral-service, accepted and completed by the CBO; Northside keeps its own Task and sends
 * CareRelay a copy naming it. Afterwards each EHR server's own Task reads `completed`, with the
 * Procedure (copied onto the EHR server) as its output. Everything through fhir-kit-client.
 */

const ROOT = path.join(__dirname, '..', '..');

// Its own ports (network.e2e-spec.ts uses 18080+), so the two files never collide.
const PORT_BASE = Number(process.env.CARERELAY_E2E_EHR_PORT_BASE ?? 18180);
const PLATFORM = 'carerelay-platform';

/** The order of the IG's Task lifecycle: an EHR Task's history must never go back in it. */
const RANK: Record<string, number> = {
  requested: 0,
  accepted: 1,
  'in-progress': 2,
  'on-hold': 2,
  completed: 3,
};

/**
 * The network's services join standing consumer groups (referral-service, ...) on the machine's
 * broker: whatever was published since they last ran (other test runs, benchmarks) is consumed
 * first. Waits, bounded, until their lag is small, so that the tests' own events are not queued
 * behind thousands of others.
 */
async function waitForConsumersToCatchUp(brokers: string, timeoutMs: number): Promise<void> {
  const groups = ['referral-service', 'consent-service', 'followup-service', 'ehr-connector'];
  const topics = Object.values(TOPICS).map((t) => t.name);
  const admin = new Kafka({
    clientId: 'e2e-ehr-lag',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    let lastLog = 0;
    for (;;) {
      const lags: Record<string, number> = {};
      const highs = new Map<string, Map<number, number>>();
      for (const topic of topics) {
        const offsets = await admin.fetchTopicOffsets(topic).catch(() => []);
        highs.set(topic, new Map(offsets.map((o) => [o.partition, Number(o.high)])));
      }
      for (const groupId of groups) {
        let lag = 0;
        for (const t of await admin.fetchOffsets({ groupId, topics })) {
          for (const p of t.partitions) {
            const committed = Number(p.offset);
            // (the high watermark is read first: a commit since then may be past it)
            if (committed >= 0)
              lag += Math.max(0, (highs.get(t.topic)?.get(p.partition) ?? committed) - committed);
          }
        }
        lags[groupId] = lag;
      }
      const total = Object.values(lags).reduce((a, b) => a + b, 0);
      if (total <= 20) return;
      if (Date.now() > deadline) {
        process.stderr.write(
          `[e2e ehr] consumers still behind after ${timeoutMs / 1000} s: ${JSON.stringify(lags)}\n`,
        );
        return;
      }
      if (Date.now() - lastLog > 15_000) {
        lastLog = Date.now();
        process.stderr.write(
          `[e2e ehr] waiting for the consumers to catch up: ${JSON.stringify(lags)}\n`,
        );
      }
      await sleep(2_000);
    }
  } finally {
    await admin.disconnect();
  }
}

let network: Network;
let coordinator: FhirApiClient;
const cbo = new Map<string, FhirApiClient>();
const ehrServer = new Map<string, FhirApiClient>();
let connectorUrl: string;

beforeAll(async () => {
  const { startNetwork } = loadNetworkModule();
  network = await startNetwork({
    skipBacklog: true,
    owner: `e2e-ehr:${process.pid}`,
    portBase: PORT_BASE,
    stateDir: path.join(ROOT, '.carerelay', 'e2e-ehr'),
    quiet: true,
    log: (line: string) => process.stderr.write(`[e2e ehr network] ${line}\n`),
  });
  const byRole = (role: string) => network.clients.filter((c) => c.role === role);
  coordinator = fhirClientFor(byRole('coordinator')[0], network.fhirBaseUrl);
  for (const client of byRole('cbo'))
    cbo.set(client.organizationId, fhirClientFor(client, network.fhirBaseUrl));
  for (const [hospital, server] of Object.entries(network.ehrServers ?? {}))
    ehrServer.set(hospital, new FhirApiClient(server.baseUrl));
  connectorUrl = network.processes.find((p) => p.app === 'ehr-connector')?.url ?? '';
  await waitForConsumersToCatchUp(network.infraEnv.KAFKA_BROKERS, 360_000);
}, 720_000);

afterAll(async () => {
  // Stops the apps; the broker and database stay to the jest global setup's owner.
  await network?.stop({ stopInfrastructure: false });
}, 60_000);

function generatorFor(hospitalId: string, seed: number): () => Resource {
  const generator = new ReferralGenerator(demoDirectory(), {
    hospitalIds: [hospitalId],
    platformOrganizationId: PLATFORM,
    seed,
  });
  return () => {
    // Food or housing: every ZIP of the sample region has a service for them.
    for (let i = 0; i < 200; i++) {
      const referral = generator.next();
      if (
        ['food-insecurity', 'housing-instability'].includes(referral.category) &&
        !referral.laterConsent
      )
        return structuredClone(referral.bundle);
    }
    throw new Error('the generator made no food or housing referral in 200 tries');
  };
}

const entryOf = (bundle: Resource, type: string): Resource =>
  (bundle.entry as Array<{ resource: Resource }>).find((e) => e.resource.resourceType === type)!
    .resource;

/** The CareRelay Task that names the EHR's Task (placer identifier `<EHR base>/Task|<id>`). */
function carerelayTaskFor(ehrBase: string, ehrTaskId: string): Promise<Resource> {
  return waitFor(`the CareRelay Task of ${ehrBase}/Task/${ehrTaskId}`, async () => {
    const found = await coordinator.search('Task', { identifier: `${ehrBase}/Task|${ehrTaskId}` });
    const tasks = (found.entry ?? []).map((e) => e.resource!);
    if (tasks.length > 1) throw new Error(`${tasks.length} CareRelay Tasks for one EHR Task`);
    return tasks[0];
  });
}

/** The CBO Task of a referral (coordinator's view), once the referral-service created it. */
function cboTaskOf(sourceTaskId: string): Promise<Resource> {
  return waitFor(`a CBO Task partOf Task/${sourceTaskId}`, async () => {
    const found = await coordinator.search('Task', { 'part-of': `Task/${sourceTaskId}` });
    return (found.entry ?? []).map((e) => e.resource!).find((t) => t.status === 'requested');
  });
}

async function setStatus(client: FhirApiClient, taskId: string, status: string) {
  return client.updateWithIfMatch('Task', taskId, (task) => ({ ...task, status }));
}

/** As the CBO: accepted, in progress, then completed with a Procedure as resulting activity. */
async function cboClosesTheLoop(cboTask: Resource): Promise<Resource> {
  const org = cboTask.owner.reference.split('/')[1] as string;
  const client = cbo.get(org);
  if (!client) throw new Error(`no demo client for the CBO ${org}`);
  await setStatus(client, cboTask.id!, 'accepted');
  await setStatus(client, cboTask.id!, 'in-progress');
  const focus = await client.read('ServiceRequest', cboTask.focus.reference.split('/')[1]);
  const procedure = await client.create<Resource>({
    resourceType: 'Procedure',
    status: 'completed',
    code: focus.code,
    subject: cboTask.for,
    basedOn: [{ reference: `ServiceRequest/${focus.id}` }],
    performedDateTime: new Date().toISOString(),
  });
  await client.updateWithIfMatch('Task', cboTask.id!, (task) => ({
    ...task,
    status: 'completed',
    output: [
      {
        type: { coding: [{ system: SDOHCC_TEMPORARY_CODES, code: 'resulting-activity' }] },
        valueReference: { reference: `Procedure/${procedure.id}` },
      },
    ],
  }));
  return procedure;
}

const lastUpdatedOf = (r: Resource): string => (r.meta as { lastUpdated: string }).lastUpdated;

/** Every version of an EHR Task, oldest first (MemoryRepository's versionIds are UUIDs). */
async function ehrHistory(ehr: FhirApiClient, id: string): Promise<Resource[]> {
  const history = (await (await ehr.raw()).history({ resourceType: 'Task', id })) as Bundle;
  return (history.entry ?? [])
    .map((e) => e.resource!)
    .sort((a, b) => Date.parse(lastUpdatedOf(a)) - Date.parse(lastUpdatedOf(b)));
}

/** The EHR Task, once completed: its output Procedure is on the EHR server, about its patient. */
async function expectClosedOnEhr(
  ehr: FhirApiClient,
  ehrTaskId: string,
  expected: { patient: string; serviceRequest?: string },
): Promise<Resource> {
  const done = await waitFor(
    `the EHR's own Task/${ehrTaskId} completed`,
    async () => {
      const task = await ehr.read('Task', ehrTaskId);
      return task.status === 'completed' ? task : undefined;
    },
    120_000,
  );
  expect(done.output).toHaveLength(1);
  expect(done.output[0].type.coding[0].code).toBe('resulting-activity');
  const reference = done.output[0].valueReference.reference as string;
  expect(reference).toMatch(/^Procedure\/[^/]+$/);
  const procedure = await ehr.read('Procedure', reference.split('/')[1]);
  expect(procedure.status).toBe('completed');
  expect(procedure.subject.reference).toBe(`Patient/${expected.patient}`);
  if (expected.serviceRequest)
    expect(procedure.basedOn).toEqual([{ reference: `ServiceRequest/${expected.serviceRequest}` }]);

  const statuses = (await ehrHistory(ehr, ehrTaskId)).map((t) => t.status as string);
  expect(statuses[0]).toBe('requested');
  expect(statuses[statuses.length - 1]).toBe('completed');
  expect(statuses).toContain('accepted');
  const ranks = statuses.map((s) => RANK[s]);
  expect(ranks).toEqual([...ranks].sort((a, b) => a - b)); // never backwards
  return done;
}

describe('EHR endpoints of the network', () => {
  it('runs both stand-in EHR servers, registered with the ehr-connector (South Shore pull, Northside push)', async () => {
    expect(network.processes.filter((p) => p.status !== 'ready').map((p) => p.name)).toEqual([]);
    expect(network.ehrServers?.['hosp-southshore']?.mode).toBe('pull');
    expect(network.ehrServers?.['hosp-northside']?.mode).toBe('push');
    const endpoints = (await (
      await network.platformTokens.fetch(`${connectorUrl}/ehr-endpoints`)
    ).json()) as Array<{
      id: string;
      modes: string[];
    }>;
    expect(endpoints).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: 'hosp-southshore', modes: ['pull', 'push'] }),
        expect.objectContaining({ id: 'hosp-northside', modes: ['push'] }),
      ]),
    );
  });

  it('`npm run cli -- ehr:add` writes the registry the running connector serves; ehr:list reads it', async () => {
    const cli = (args: string[]) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(process.execPath, ['infra/bin/cli.mjs', ...args], {
          cwd: ROOT,
          env: { ...process.env, DATABASE_URL: network.infraEnv.DATABASE_URL },
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('exit', (code) => resolve({ code, out, err }));
      });
    const added = await cli([
      'ehr:add',
      '--id',
      'e2e-cli-ehr',
      '--org',
      'e2e-cli-hospital',
      '--base',
      'http://127.0.0.1:9/fhir',
      '--mode',
      'push,subscribe',
      '--disabled',
    ]);
    expect(added.err).toBe('');
    expect(added.code).toBe(0);
    expect(JSON.parse(added.out)).toMatchObject({ id: 'e2e-cli-ehr', enabled: false });
    const served = (await (
      await network.platformTokens.fetch(`${connectorUrl}/ehr-endpoints/e2e-cli-ehr`)
    ).json()) as {
      organizationId: string;
      modes: string[];
    };
    expect(served).toMatchObject({
      organizationId: 'e2e-cli-hospital',
      modes: ['push', 'subscribe'],
    });
    const listed = await cli(['ehr:list']);
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.out) as Array<{ id: string }>).map((e) => e.id)).toEqual(
      expect.arrayContaining(['e2e-cli-ehr', 'hosp-southshore', 'hosp-northside']),
    );
    const refused = await cli(['ehr:add', '--org', 'x', '--base', 'nope', '--mode', 'fax']);
    expect(refused.code).toBe(65);
    expect(refused.err).toMatch(/baseUrl/);
  }, 120_000);
});

describe('closing the loop in the EHR itself', () => {
  it('pull: a Task placed on the EHR server is pulled, routed, accepted and completed by a CBO; the EHR Task reads completed with the Procedure', async () => {
    const ehr = ehrServer.get('hosp-southshore')!;
    const bundle = generatorFor('hosp-southshore', 20_241_105 + (Date.now() % 1000))();
    // As the EHR keeps it: on its own server only (its own ids; no conditional creates needed).
    for (const entry of bundle.entry as Array<{ request: Record<string, unknown> }>)
      delete entry.request.ifNoneExist;
    const placed = await ehr.transaction(bundle);
    const ehrTaskId = idFromLocation(placed, 'Task');
    const ehrPatientId = idFromLocation(placed, 'Patient');
    const ehrServiceRequestId = idFromLocation(placed, 'ServiceRequest');

    const source = await carerelayTaskFor(ehr.baseUrl, ehrTaskId);
    expect(source.requester.reference).toBe('Organization/hosp-southshore');
    expect(source.owner.reference).toBe(`Organization/${PLATFORM}`);
    const cboTask = await cboTaskOf(source.id!);
    // The platform accepted the referral once it placed it, and the EHR was told.
    const routed = await waitFor('the EHR Task accepted (routed)', async () => {
      const task = await ehr.read('Task', ehrTaskId);
      return task.status === 'accepted' ? task : undefined;
    });
    expect(routed.businessStatus?.text).toBe('routed');

    const procedure = await cboClosesTheLoop(cboTask);
    const done = await expectClosedOnEhr(ehr, ehrTaskId, {
      patient: ehrPatientId,
      serviceRequest: ehrServiceRequestId,
    });
    const onEhr = await ehr.read(
      'Procedure',
      done.output[0].valueReference.reference.split('/')[1],
    );
    // The copy names the CareRelay Procedure it came from.
    expect(onEhr.identifier).toEqual(
      expect.arrayContaining([{ system: `${network.fhirBaseUrl}/Procedure`, value: procedure.id }]),
    );
    // Pulled once only (the connector polls every 2 s).
    await sleep(3_000);
    const copies = await coordinator.search('Task', {
      identifier: `${ehr.baseUrl}/Task|${ehrTaskId}`,
    });
    expect(copies.entry ?? []).toHaveLength(1);
  }, 300_000);

  it('push: Northside keeps its own Task and sends CareRelay a copy naming it; the CBO outcome reaches the EHR Task', async () => {
    const ehr = ehrServer.get('hosp-northside')!;
    const northside = network.clients.find((c) => c.organizationId === 'hosp-northside')!;
    const hospital = fhirClientFor(northside, network.fhirBaseUrl);
    const bundle = generatorFor('hosp-northside', 20_241_106 + (Date.now() % 1000))();
    // The EHR's own Patient and Task on its server, as the simulator's push route does.
    const task = entryOf(bundle, 'Task');
    const { id: _p, ...patientBody } = entryOf(bundle, 'Patient');
    const ehrPatient = await ehr.create<Resource>({ ...patientBody, resourceType: 'Patient' });
    const { identifier: _i, focus: _f, for: _for, ...own } = task;
    const ehrTask = await ehr.create<Resource>({
      ...own,
      resourceType: 'Task',
      for: { reference: `Patient/${ehrPatient.id}` },
    });
    task.identifier = [
      ...(task.identifier ?? []),
      { system: `${ehr.baseUrl}/Task`, value: ehrTask.id },
    ];
    const sent = await hospital.transaction(bundle);
    const sourceId = idFromLocation(sent, 'Task');
    expect((await carerelayTaskFor(ehr.baseUrl, ehrTask.id!)).id).toBe(sourceId);

    await cboClosesTheLoop(await cboTaskOf(sourceId));
    await expectClosedOnEhr(ehr, ehrTask.id!, { patient: ehrPatient.id! });
    const deliveries = (await (
      await network.platformTokens.fetch(`${connectorUrl}/push/deliveries?task=${sourceId}`)
    ).json()) as Array<{ state: string; version: number }>;
    expect(deliveries.length).toBeGreaterThanOrEqual(3);
    expect(deliveries.filter((d) => d.state === 'parked')).toEqual([]);
  }, 300_000);
});
