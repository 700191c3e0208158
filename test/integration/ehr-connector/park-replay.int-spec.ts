import { FhirApiClient } from '@carerelay/fhir-client';
import { waitFor } from '@carerelay/testing';
import { startTestFhirApi, type TestFhirApi } from '../../../apps/fhir-api/test/fhir-api.harness';
import { startEhrServer, type RunningEhrServer } from '../../../tools/ehr-server/src/ehr-server';
import { CARERELAY_VERSION_EXTENSION } from '../../../apps/ehr-connector/src/fhir/ehr-identity';
import {
  json,
  PLATFORM_ORG,
  sendReferralNamingEhrTask,
  startTestConnector,
  type Resource,
  type TestConnector,
} from './ehr-connector.harness';

const HOSPITAL_ORG = 'park-hospital-org';

interface Delivery {
  id: string;
  taskId: string;
  version: number;
  state: string;
  attempts: number;
  lastError?: string;
}

/**
 * Bounded push failures: after PUSH_MAX_ATTEMPTS a Task version is parked where coordinators see
 * it (GET /push/deliveries?state=parked), later versions are not held behind it, and
 * POST /push/deliveries/:id/replay sends it again — unless a newer version already reached the
 * EHR (then it is superseded, never written back). Real Kafka, PostgreSQL, Medplum EHR server.
 */
describe('ehr-connector push: parking after the attempt limit, and replay', () => {
  jest.setTimeout(120_000);
  let api: TestFhirApi;
  let ehrServer: RunningEhrServer;
  let connector: TestConnector;
  let ehr: FhirApiClient;
  let platform: FhirApiClient;

  beforeAll(async () => {
    api = await startTestFhirApi();
    ehrServer = await startEhrServer({ port: 0 });
    connector = await startTestConnector(api.baseUrl, {
      PUSH_MAX_ATTEMPTS: '3',
      // The outage here (the EHR server stopped) parks at the attempt limit, not after an hour.
      PUSH_OUTAGE_PARK_AFTER_MS: '0',
      PUSH_INITIAL_BACKOFF_MS: '50',
      PUSH_MAX_BACKOFF_MS: '200',
      PUSH_POLL_MS: '50',
    });
    ehr = new FhirApiClient(ehrServer.baseUrl);
    platform = new FhirApiClient(api.baseUrl, undefined, {
      customHeaders: { 'X-Dev-Actor': `platform:${PLATFORM_ORG}` },
    });
    const put = await json(`${connector.url}/ehr-endpoints/park-hospital`, 'PUT', {
      organizationId: HOSPITAL_ORG,
      baseUrl: ehrServer.baseUrl,
      auth: 'none',
      modes: ['push'],
    });
    expect(put.status).toBe(200);
  });
  afterAll(async () => {
    await connector?.close();
    await ehrServer?.close();
    await api?.close();
  });

  const setStatus = (id: string, status: string, extra: Partial<Resource> = {}) =>
    platform.updateWithIfMatch('Task', id, (task) => ({ ...task, status, ...extra }));
  const deliveriesOf = async (taskId: string): Promise<Delivery[]> =>
    (await json(`${connector.url}/push/deliveries?task=${taskId}`)).body as Delivery[];
  const parked = async (): Promise<Delivery[]> =>
    (await json(`${connector.url}/push/deliveries?state=parked`)).body as Delivery[];
  const versionOnEhr = (task: Resource): number | undefined =>
    (task.extension as Array<{ url: string; valueInteger: number }> | undefined)?.find(
      (e) => e.url === CARERELAY_VERSION_EXTENSION,
    )?.valueInteger;
  const waitForStates = (taskId: string, states: string[], what: string) =>
    waitFor(
      async () => {
        const list = await deliveriesOf(taskId);
        return list.length === states.length && list.every((d, i) => d.state === states[i])
          ? list
          : undefined;
      },
      { what, timeoutMs: 30_000, intervalMs: 100 },
    );
  const delivered = (taskId: string, version: number) =>
    waitFor(
      async () =>
        (await deliveriesOf(taskId)).find((d) => d.version === version)?.state === 'delivered',
      { what: `v${version} delivered`, timeoutMs: 30_000, intervalMs: 100 },
    );

  it('parks each version after 3 failed attempts (the later one not held behind it); replays in order once the EHR is back', async () => {
    const { ehrTaskId, taskId } = await sendReferralNamingEhrTask(
      ehr,
      api.baseUrl,
      HOSPITAL_ORG,
      'park-1',
    );
    await ehrServer.stop();
    let accepted: Resource;
    let inProgress: Resource;
    try {
      accepted = await setStatus(taskId, 'accepted', { businessStatus: { text: 'routed' } });
      inProgress = await setStatus(taskId, 'in-progress', {
        businessStatus: { text: 'contact made' },
      });
      const both = await waitForStates(taskId, ['parked', 'parked'], 'both versions parked');
      expect(both.map((d) => [d.version, d.attempts])).toEqual([
        [Number(accepted.meta!.versionId), 3],
        [Number(inProgress.meta!.versionId), 3],
      ]);
      for (const d of both) expect(d.lastError).toBe('FHIR request failed: server unreachable');
      const visible = (await parked()).filter((d) => d.taskId === taskId);
      expect(visible.map((d) => d.id)).toEqual(both.map((d) => d.id));
      // Nothing more is tried while parked.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect((await deliveriesOf(taskId)).map((d) => d.attempts)).toEqual([3, 3]);
    } finally {
      await ehrServer.start();
    }
    expect((await ehr.read('Task', ehrTaskId)).status).toBe('requested');

    const [first, second] = await deliveriesOf(taskId);
    const replay = await json(`${connector.url}/push/deliveries/${first.id}/replay`, 'POST');
    expect(replay.status).toBe(201);
    expect(replay.body).toMatchObject({ id: first.id, state: 'pending', attempts: 0 });
    await delivered(taskId, first.version);
    const afterFirst = await ehr.read('Task', ehrTaskId);
    expect(afterFirst).toMatchObject({ status: 'accepted', businessStatus: { text: 'routed' } });
    expect(versionOnEhr(afterFirst)).toBe(first.version);

    expect(
      (await json(`${connector.url}/push/deliveries/${second.id}/replay`, 'POST')).status,
    ).toBe(201);
    await delivered(taskId, second.version);
    const afterSecond = await ehr.read('Task', ehrTaskId);
    expect(afterSecond).toMatchObject({
      status: 'in-progress',
      businessStatus: { text: 'contact made' },
    });
    expect(versionOnEhr(afterSecond)).toBe(second.version);
    // A delivered one is not parked: a second replay finds nothing.
    expect(
      (await json(`${connector.url}/push/deliveries/${second.id}/replay`, 'POST')).status,
    ).toBe(404);
    expect((await parked()).filter((d) => d.taskId === taskId)).toEqual([]);
  });

  it('a parked version older than one delivered since is superseded: never replayed, never written back', async () => {
    const { ehrTaskId, taskId } = await sendReferralNamingEhrTask(
      ehr,
      api.baseUrl,
      HOSPITAL_ORG,
      'park-2',
    );
    await ehrServer.stop();
    try {
      await setStatus(taskId, 'accepted');
      await waitForStates(taskId, ['parked'], 'the accepted version parked');
    } finally {
      await ehrServer.start();
    }
    const [old] = await deliveriesOf(taskId);
    const newer = await setStatus(taskId, 'in-progress', { businessStatus: { text: 'newer' } });
    await delivered(taskId, Number(newer.meta!.versionId));
    expect((await deliveriesOf(taskId)).map((d) => [d.version, d.state])).toEqual([
      [old.version, 'superseded'],
      [Number(newer.meta!.versionId), 'delivered'],
    ]);
    expect((await json(`${connector.url}/push/deliveries/${old.id}/replay`, 'POST')).status).toBe(
      404,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    const onEhr = await ehr.read('Task', ehrTaskId);
    expect(onEhr).toMatchObject({ status: 'in-progress', businessStatus: { text: 'newer' } });
    expect(versionOnEhr(onEhr)).toBe(Number(newer.meta!.versionId));
  });

  it('answers bad queue requests with 400 and unknown deliveries with 404', async () => {
    expect((await json(`${connector.url}/push/deliveries?state=lost`)).status).toBe(400);
    expect((await json(`${connector.url}/push/deliveries/abc/replay`, 'POST')).status).toBe(400);
    expect((await json(`${connector.url}/push/deliveries/999999999/replay`, 'POST')).status).toBe(
      404,
    );
  });
});
