import type { INestApplication } from '@nestjs/common';
import { EventTypes, TOPICS, type ConsentEventV1 } from '@carerelay/contracts';
import { FhirApiClient } from '@carerelay/fhir-client';
import { OWNER_MUTABLE_ELEMENTS } from '@carerelay/fhir';
import { dropSchema } from '@carerelay/persistence';
import {
  collectTopics,
  metricValue,
  testEnv,
  uniqueName,
  waitFor,
  type CollectedMessage,
} from '@carerelay/testing';
import { startTestFhirApi, type TestFhirApi } from '../../../apps/fhir-api/test/fhir-api.harness';
import { startTestReferralService } from '../referral-service.harness';
import { startEhrServer, type RunningEhrServer } from '../../../tools/ehr-server/src/ehr-server';
import { PullPoller } from '../../../apps/ehr-connector/src/pull/pull.poller';
import { EhrResourceApplier } from '../../../apps/ehr-connector/src/pull/ehr-resource.applier';
import { EhrEndpointRegistry } from '../../../apps/ehr-connector/src/registry/ehr-endpoint.registry';
import { CARERELAY_VERSION_EXTENSION } from '../../../apps/ehr-connector/src/fhir/ehr-identity';
import { publishCbos, publishEvent } from '../directory.fixtures';
import {
  json,
  PLATFORM_ORG,
  placeReferralOnEhr,
  sendReferralNamingEhrTask,
  startTestConnector,
  type Resource,
  type TestConnector,
} from './ehr-connector.harness';

/** The current home postal code of the IG's example patient (every referral here is built on it). */
const PATIENT_ZIP = '74048';

/**
 * The Task kept in sync both ways, on the real services: FHIR API, referral-service (routing a
 * referral to a CBO and withdrawing it), ehr-connector, each on real Kafka and PostgreSQL, and two
 * stand-in EHR servers: one polled (pull and push), one that sends its referrals itself (push).
 */
describe('ehr-connector: the Task in sync both ways (pull sees the clinician cancel; push never moves the EHR back)', () => {
  jest.setTimeout(180_000);
  const pullHospital = uniqueName('hosp-pull').replace(/_/g, '-');
  const pushHospital = uniqueName('hosp-push').replace(/_/g, '-');
  const pantry = uniqueName('cbo-pantry').replace(/_/g, '-');
  const referralSchema = uniqueName('referral_sync').toLowerCase();

  let api: TestFhirApi;
  let referralService: INestApplication;
  let connector: TestConnector;
  let pullEhrServer: RunningEhrServer;
  let pushEhrServer: RunningEhrServer;
  let pullEhr: FhirApiClient;
  let pushEhr: FhirApiClient;
  let platform: FhirApiClient;
  let events: { messages: CollectedMessage[]; stop: () => Promise<void> };

  beforeAll(async () => {
    api = await startTestFhirApi();
    referralService = await startTestReferralService({
      fhirBaseUrl: api.baseUrl,
      platformOrganizationId: PLATFORM_ORG,
      schema: referralSchema,
      groupId: uniqueName('referral-service-sync'),
      fhirClient: new FhirApiClient(api.baseUrl, undefined, {
        customHeaders: { 'X-Dev-Actor': `platform:${PLATFORM_ORG}` },
      }),
    });
    events = await collectTopics([TOPICS.referralEvents.name]);
    pullEhrServer = await startEhrServer({ port: 0 });
    pushEhrServer = await startEhrServer({ port: 0 });
    connector = await startTestConnector(api.baseUrl);
    pullEhr = new FhirApiClient(pullEhrServer.baseUrl);
    pushEhr = new FhirApiClient(pushEhrServer.baseUrl);
    platform = new FhirApiClient(api.baseUrl, undefined, {
      customHeaders: { 'X-Dev-Actor': `platform:${PLATFORM_ORG}` },
    });
    for (const [id, organizationId, baseUrl, modes] of [
      ['sync-pull', pullHospital, pullEhrServer.baseUrl, ['pull', 'push']],
      ['sync-push', pushHospital, pushEhrServer.baseUrl, ['push']],
    ] as const) {
      const put = await json(`${connector.url}/ehr-endpoints/${id}`, 'PUT', {
        organizationId,
        baseUrl,
        auth: 'none',
        modes,
        pollIntervalSeconds: 1,
      });
      expect(put.status).toBe(200);
    }
    await publishCbos(PATIENT_ZIP, [
      { id: pantry, name: 'Sync Test Pantry', categories: ['food-insecurity'] },
    ]);
  });

  afterAll(async () => {
    await events?.stop();
    await connector?.close();
    await referralService?.close();
    await pullEhrServer?.close();
    await pushEhrServer?.close();
    await api?.close();
    await dropSchema(testEnv().DATABASE_URL, referralSchema);
  });

  const referralEvent = (referralId: string, state: string) =>
    waitFor(
      () =>
        events.messages
          .map((m) => (m.key === referralId ? JSON.parse(m.value!) : undefined))
          .find((e) => e?.state === state),
      { what: `referral ${referralId} ${state}`, timeoutMs: 60_000 },
    );

  /** Consent given (as consent-service announces it), then the referral routed: its CBO Task. */
  async function routed(sourceTask: Resource): Promise<{ cboTaskId: string; cbo: string }> {
    await publishEvent(EventTypes.consentGranted, {
      consentId: uniqueName('consent'),
      patientId: (sourceTask.for.reference as string).split('/')[1],
      organizationId: null,
      occurredAt: new Date().toISOString(),
      securityLabels: [],
    } satisfies ConsentEventV1);
    const event = await referralEvent(sourceTask.id, 'routed');
    return { cboTaskId: event.cboTaskId, cbo: event.targetOrganizationId };
  }

  async function pulledTaskFor(ehrTaskId: string): Promise<Resource> {
    return waitFor(
      async () => {
        const found = await platform.search('Task', {
          identifier: `${pullEhrServer.baseUrl}/Task|${ehrTaskId}`,
        });
        return found.entry?.[0]?.resource as Resource | undefined;
      },
      { what: 'the Task pulled into CareRelay', timeoutMs: 60_000 },
    );
  }

  const statusOf = (client: FhirApiClient, id: string) =>
    client.read('Task', id).then((t) => t.status as string);

  const waitForStatus = (client: FhirApiClient, id: string, status: string, what: string) =>
    waitFor(async () => (await statusOf(client, id)) === status, { what, timeoutMs: 60_000 });

  /** Every version of an EHR Task, oldest first (MemoryRepository's versionIds are UUIDs). */
  async function history(ehr: FhirApiClient, id: string): Promise<Resource[]> {
    const bundle = (await (await ehr.raw()).history({ resourceType: 'Task', id })) as Resource;
    return (bundle.entry as Array<{ resource: Resource }>)
      .map((e) => e.resource)
      .sort((a, b) => Date.parse(a.meta.lastUpdated) - Date.parse(b.meta.lastUpdated));
  }

  const carerelayVersion = (task: Resource): number =>
    ((task.extension as Array<{ url: string; valueInteger?: number }>) ?? []).find(
      (e) => e.url === CARERELAY_VERSION_EXTENSION,
    )?.valueInteger ?? 0;

  /** The elements that differ between two versions of a resource (meta aside). */
  const changedElements = (before: Resource, after: Resource): string[] =>
    [...new Set([...Object.keys(before), ...Object.keys(after)])].filter(
      (k) => k !== 'meta' && JSON.stringify(before[k]) !== JSON.stringify(after[k]),
    );

  it('pull: the clinician cancels the EHR Task → the CareRelay source Task and the CBO Task end cancelled; a re-poll applies nothing twice', async () => {
    const placed = await placeReferralOnEhr(pullEhr, uniqueName('sync-cancel'));
    const source = await pulledTaskFor(placed.task.id);
    const { cboTaskId } = await routed(source);
    // Routed: the platform accepted the source Task, and that went back to the EHR.
    await waitForStatus(pullEhr, placed.task.id, 'accepted', 'the EHR Task accepted');

    await pullEhr.updateWithIfMatch('Task', placed.task.id, (t) => ({
      ...t,
      status: 'cancelled',
      statusReason: { text: 'patient declined the referral' },
    }));
    await waitForStatus(platform, source.id, 'cancelled', 'the CareRelay source Task cancelled');
    const sourceNow = await platform.read('Task', source.id);
    expect(sourceNow.statusReason).toEqual({ text: 'patient declined the referral' });
    // The referral workflow withdrew the CBO's Task (the connector never writes it).
    await waitForStatus(platform, cboTaskId, 'cancelled', 'the CBO Task cancelled');
    await referralEvent(source.id, 'cancelled');

    // An unchanged EHR, polled again (the overlap window brings the same versions back): nothing
    // is applied twice, the CareRelay Task is not written again.
    const poller = connector.app.get(PullPoller);
    const endpoint = (await connector.app.get(EhrEndpointRegistry).get('sync-pull'))!;
    const before = await platform.read('Task', source.id);
    const polls = await Promise.all([poller.pollEndpoint(endpoint), poller.pollEndpoint(endpoint)]);
    expect(polls.map((p) => p.seen).every((n) => n > 0)).toBe(true);
    expect(polls.map((p) => [p.pulled, p.applied])).toEqual([
      [0, 0],
      [0, 0],
    ]);
    // The same version offered again (a late notification, say) is not applied either.
    const applier = connector.app.get(EhrResourceApplier);
    const cancelled = await pullEhr.read('Task', placed.task.id);
    expect(await applier.apply(endpoint, cancelled)).toBe('unchanged');
    const after = await platform.read('Task', source.id);
    expect(after.meta!.versionId).toBe(before.meta!.versionId);

    // The cancellation CareRelay mirrored is not echoed onto the EHR: its Task is as the
    // clinician left it.
    await waitFor(
      async () => {
        const d = await json(`${connector.url}/push/deliveries?task=${source.id}`);
        return d.body.some(
          (x: { version: number; state: string }) =>
            x.version === Number(after.meta!.versionId) && x.state !== 'pending',
        );
      },
      { what: 'the cancelled version handled by the push' },
    );
    const ehrNow = await pullEhr.read('Task', placed.task.id);
    expect(ehrNow.meta!.versionId).toBe(cancelled.meta!.versionId);
  });

  it('pull: the clinician revokes the ServiceRequest (the Task untouched) → the CareRelay source Task cancelled', async () => {
    const placed = await placeReferralOnEhr(pullEhr, uniqueName('sync-revoke'));
    const source = await pulledTaskFor(placed.task.id);
    await pullEhr.updateWithIfMatch('ServiceRequest', placed.serviceRequest.id, (sr) => ({
      ...sr,
      status: 'revoked',
    }));
    await waitForStatus(platform, source.id, 'cancelled', 'the CareRelay source Task cancelled');
    expect((await platform.read('Task', source.id)).statusReason.text).toMatch(/revoked/);
    const endpoint = (await connector.app.get(EhrEndpointRegistry).get('sync-pull'))!;
    const again = await connector.app.get(PullPoller).pollEndpoint(endpoint);
    expect(again.applied).toBe(0);
  });

  it('push: the EHR Task cancelled on the EHR stays cancelled when the CBO completes; only owner elements are ever written', async () => {
    const { ehrTaskId, taskId } = await sendReferralNamingEhrTask(
      pushEhr,
      api.baseUrl,
      pushHospital,
      uniqueName('sync-push'),
    );
    // The clinician's own note and extension on the EHR Task, before anything is pushed.
    const ehrExtension = { url: 'http://hospital.example/ext/follow-up', valueBoolean: true };
    await pushEhr.updateWithIfMatch('Task', ehrTaskId, (t) => ({
      ...t,
      note: [{ text: 'call the patient after 5pm' }],
      extension: [ehrExtension],
    }));
    // A clinician's edit lands between the connector's read and its If-Match write of the
    // first version: a 412, read again, merged again.
    let conflicts = 0;
    pushEhrServer.beforeWrite(async (write) => {
      if (write.method !== 'PUT' || write.path !== `Task/${ehrTaskId}`) return;
      pushEhrServer.beforeWrite();
      conflicts++;
      const current = await pushEhrServer.repo.readResource('Task', ehrTaskId);
      await pushEhrServer.repo.updateResource({
        ...current,
        note: [...((current as Resource).note ?? []), { text: 'transport arranged' }],
      });
    });
    const source = await platform.read('Task', taskId);
    const { cboTaskId, cbo } = await routed(source);
    const accepted = await waitFor(
      async () => {
        const t = await pushEhr.read('Task', ehrTaskId);
        return t.status === 'accepted' && t;
      },
      { what: 'the EHR Task accepted', timeoutMs: 60_000 },
    );
    expect(conflicts).toBe(1);
    expect(accepted.note).toEqual([
      { text: 'call the patient after 5pm' },
      { text: 'transport arranged' },
    ]);
    expect(accepted.extension).toEqual(expect.arrayContaining([ehrExtension]));

    // The clinician cancels on the EHR; CareRelay does not hear of it (push only).
    const cancelled = await pushEhr.updateWithIfMatch('Task', ehrTaskId, (t) => ({
      ...t,
      status: 'cancelled',
      statusReason: { text: 'patient admitted' },
    }));
    const skippedBefore = await regressionsCounted();

    // The CBO accepts, works and completes; referral-service mirrors it onto the source Task.
    const asCbo = new FhirApiClient(api.baseUrl, undefined, {
      customHeaders: { 'X-Dev-Actor': `cbo:${cbo}` },
    });
    for (const status of ['accepted', 'in-progress', 'completed'])
      await asCbo.updateWithIfMatch('Task', cboTaskId, (t) => ({ ...t, status }));
    await waitForStatus(platform, taskId, 'completed', 'the source Task completed');
    const completed = await platform.read('Task', taskId);
    const delivery = await waitFor(
      async () => {
        const d = await json(`${connector.url}/push/deliveries?task=${taskId}`);
        return d.body.find(
          (x: { version: number; state: string }) =>
            x.version === Number(completed.meta!.versionId) && x.state !== 'pending',
        );
      },
      { what: 'the completed version handled by the push', timeoutMs: 60_000 },
    );
    expect(delivery).toMatchObject({
      state: 'superseded',
      lastError: 'not written: the EHR Task is cancelled (this version: completed)',
    });
    expect(await regressionsCounted()).toBeGreaterThan(skippedBefore);

    const onEhr = await pushEhr.read('Task', ehrTaskId);
    expect(onEhr.status).toBe('cancelled');
    expect(onEhr.statusReason).toEqual({ text: 'patient admitted' });
    expect(onEhr.meta!.versionId).toBe(cancelled.meta!.versionId);

    // Every version the connector wrote changed only what the owner may change (and the
    // extension naming the CareRelay version); the EHR's own elements went through untouched.
    const versions = await history(pushEhr, ehrTaskId);
    const owner = new Set([...OWNER_MUTABLE_ELEMENTS, 'businessStatus', 'extension']);
    let written = 0;
    for (let i = 1; i < versions.length; i++) {
      if (carerelayVersion(versions[i]) === carerelayVersion(versions[i - 1])) continue;
      written++;
      expect(changedElements(versions[i - 1], versions[i]).filter((k) => !owner.has(k))).toEqual(
        [],
      );
      expect(versions[i].extension).toEqual(expect.arrayContaining([ehrExtension]));
    }
    expect(written).toBeGreaterThan(0);
    expect(versions.map((v) => v.status)).not.toContain('completed');
  });

  const regressionsCounted = () =>
    metricValue(connector.url, 'carerelay_ehr_push_regressions_skipped_total', {
      endpoint: 'sync-push',
      ehr_status: 'cancelled',
    });
});
