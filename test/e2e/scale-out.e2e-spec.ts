import path from 'node:path';
import type { FhirApiClient, Resource } from '@carerelay/fhir-client';
import { collectTopics, metricValue } from '@carerelay/testing';
import { TOPICS } from '@carerelay/contracts';
import { fhirClientFor } from '../../tools/simulator/src/credentials';
import { demoDirectory } from '../../tools/simulator/src/demo-network';
import { ReferralGenerator } from '../../tools/simulator/src/referral-generator';
import {
  loadNetworkModule,
  sleep,
  waitFor,
  type Network,
  idFromLocation,
} from '../support/started-network';

/**
 * Scale-out: the network as `npm start -- --instances 2` runs it, two instances of every service
 * side by side on one broker and one database, as a second machine would run them. Referrals
 * posted to both FHIR API instances are each routed once and closed once, and every instance
 * takes its share of the events.
 */

const PORT_BASE = Number(process.env.CARERELAY_E2E_SCALE_PORT_BASE ?? 18480);
const ROOT = path.join(__dirname, '..', '..');
const REFERRALS = 24;

let network: Network;

beforeAll(async () => {
  const { startNetwork } = loadNetworkModule();
  network = await startNetwork({
    skipBacklog: true,
    owner: `e2e-scale:${process.pid}`,
    portBase: PORT_BASE,
    instances: 2,
    stateDir: path.join(ROOT, '.carerelay', 'e2e-scale'),
    quiet: true,
    readyTimeoutMs: 300_000,
    log: (line: string) => process.stderr.write(`[e2e scale-out] ${line}\n`),
  });
}, 600_000);

afterAll(async () => {
  await network?.stop({ stopInfrastructure: false });
}, 120_000);

const services = () => network.processes.filter((p) => p.app !== 'ehr-server');

describe('two instances of every service side by side', () => {
  it('starts two instances of every service, each ready on ports of its own', () => {
    const byApp = new Map<string, string[]>();
    for (const p of services()) byApp.set(p.app, [...(byApp.get(p.app) ?? []), p.status]);
    expect(byApp.size).toBeGreaterThanOrEqual(7);
    for (const [app, statuses] of byApp)
      expect({ app, statuses }).toEqual({ app, statuses: ['ready', 'ready'] });
    const ports = services().map((p) => p.port);
    expect(new Set(ports).size).toBe(ports.length);
  });

  it('routes and closes each referral exactly once, whichever FHIR API took it, and every instance shares the work', async () => {
    const events = await collectTopics([TOPICS.referralEvents.name]);
    try {
      const clients = network.clients;
      const coordinator = fhirClientFor(
        clients.find((c) => c.role === 'coordinator')!,
        network.fhirBaseUrl,
      );
      const cbo = new Map(
        clients
          .filter((c) => c.role === 'cbo')
          .map((c) => [c.organizationId, fhirClientFor(c, network.fhirBaseUrl)]),
      );
      // The hospital's EHR client against each FHIR API instance (a load balancer's choice).
      const northside = clients.find((c) => c.organizationId === 'hosp-northside')!;
      const fhirApis = network.processes.filter((p) => p.app === 'fhir-api');
      expect(fhirApis).toHaveLength(2);
      const ehrs: FhirApiClient[] = fhirApis.map((p) => fhirClientFor(northside, `${p.url}/fhir`));

      const generator = new ReferralGenerator(demoDirectory(), {
        hospitalIds: ['hosp-northside'],
        platformOrganizationId: 'carerelay-platform',
        seed: 20_261_203,
        delayedConsentShare: 0,
      });
      const taskIds: string[] = [];
      while (taskIds.length < REFERRALS) {
        const referral = generator.next();
        if (!['food-insecurity', 'housing-instability'].includes(referral.category)) continue;
        const response = await ehrs[taskIds.length % 2].transaction(referral.bundle);
        taskIds.push(idFromLocation(response, 'Task'));
      }

      // Each referral reaches a CBO; the CBO accepts and completes it.
      const cboTasks = await Promise.all(
        taskIds.map((id) =>
          waitFor(
            `the CBO Task of Task/${id}`,
            async () => {
              const found = await coordinator.search('Task', { 'part-of': `Task/${id}` });
              return found.entry?.[0]?.resource as Resource | undefined;
            },
            240_000,
            1_000,
          ),
        ),
      );
      for (const task of cboTasks) {
        const client = cbo.get(task.owner.reference.split('/')[1])!;
        for (const status of ['accepted', 'in-progress', 'completed'])
          await client.updateWithIfMatch('Task', task.id!, (current) => ({ ...current, status }));
      }
      for (const id of taskIds)
        await waitFor(
          `Task/${id} completed`,
          async () => ((await ehrs[0].read('Task', id)).status === 'completed' ? true : undefined),
          240_000,
          1_000,
        );
      // A second routing or publication would show by now.
      await sleep(3_000);

      // One CBO Task per referral: no step was carried out twice into a second Task.
      for (const id of taskIds) {
        const found = await coordinator.search('Task', { 'part-of': `Task/${id}` });
        expect({ id, cboTasks: (found.entry ?? []).length }).toEqual({ id, cboTasks: 1 });
      }
      // One `routed` and one `completed` event per referral, each published once.
      const ours = new Set(taskIds);
      const mine = events.messages
        .map((m) => ({ id: m.headers.ce_id, data: JSON.parse(m.value ?? '{}') }))
        .filter((e) => ours.has(e.data.referralId));
      expect(new Set(mine.map((e) => e.id)).size).toBe(mine.length);
      for (const state of ['routed', 'completed']) {
        const perReferral = taskIds.map(
          (id) => mine.filter((e) => e.data.referralId === id && e.data.state === state).length,
        );
        expect({ state, perReferral }).toEqual({ state, perReferral: taskIds.map(() => 1) });
      }

      // Both instances of each consuming service handled some of the events.
      for (const app of [
        'referral-service',
        'consent-service',
        'followup-service',
        'analytics-service',
      ]) {
        const instances = network.processes.filter((p) => p.app === app);
        const handled = await Promise.all(
          instances.map((p) => metricValue(p.managementUrl!, 'carerelay_events_consumed_total')),
        );
        expect({ app, shared: handled.map((n) => n > 0) }).toEqual({ app, shared: [true, true] });
      }
      // Both referral-service instances carried out workflow steps, and no step twice: each
      // claims the steps it carries out, so neither repeated the other's FHIR writes.
      const stepRunners = network.processes.filter((p) => p.app === 'referral-service');
      const steps = await Promise.all(
        stepRunners.map(async (p) => ({
          recorded: await metricValue(p.managementUrl!, 'carerelay_referral_steps_total', {
            outcome: 'recorded',
          }),
          superseded: await metricValue(p.managementUrl!, 'carerelay_referral_steps_total', {
            outcome: 'superseded',
          }),
        })),
      );
      expect(steps.map((s) => ({ recorded: s.recorded > 0, superseded: s.superseded }))).toEqual([
        { recorded: true, superseded: 0 },
        { recorded: true, superseded: 0 },
      ]);
    } finally {
      await events.stop();
    }
  }, 900_000);
});
