import { INestApplication } from '@nestjs/common';
import { randomInt } from 'node:crypto';
import { EventTypes, TOPICS, newCloudEvent, type ConsentEventV1 } from '@carerelay/contracts';
import { Bundle, FhirApiClient, FhirRequestError, Resource } from '@carerelay/fhir-client';
import { Client as PgClient } from 'pg';
import { DataSource } from 'typeorm';
import type { EventContext } from '@carerelay/messaging';
import { dropSchema } from '@carerelay/persistence';
import {
  CollectedMessage,
  collectTopics,
  metricValue,
  testEnv,
  testKafka,
  uniqueName,
  waitFor,
} from '@carerelay/testing';
import { startTestFhirApi, type TestFhirApi } from '../../apps/fhir-api/test/fhir-api.harness';
import { publishCbos, publishEvent } from './directory.fixtures';
import { startTestReferralService } from './referral-service.harness';
import { CBO_TASK_IDENTIFIER } from '../../apps/referral-service/src/fhir/referral-fhir.gateway';
import { ReferralReconciler } from '../../apps/referral-service/src/reconciliation/referral.reconciler';
import { ReferralEventsHandler } from '../../apps/referral-service/src/referrals/referral-events.handler';

/**
 * The platform's client, with a hook behind each transaction (a test holds or fails a step there)
 * and a record of what it read and of its transactions.
 */
class HookedFhirClient extends FhirApiClient {
  /** Runs once a transaction has committed, before its answer reaches the caller. */
  afterTransaction?: (entries: string[]) => Promise<void>;
  readonly reads: string[] = [];
  /**
   * Each transaction's entries (`POST Task?identifier=...|<key>`, `PUT Task/<id> W/"2"`) and its
   * answer: each entry's status, or the refusal's.
   */
  readonly transactions: Array<{ entries: string[]; answer: string }> = [];

  override async transaction(bundle: Resource): Promise<Bundle> {
    const entries = (bundle.entry as Array<{ request: Record<string, string> }>).map(
      ({ request: r }) =>
        `${r.method} ${r.url}${r.ifNoneExist ? `?${r.ifNoneExist}` : ''}${r.ifMatch ? ` ${r.ifMatch}` : ''}`,
    );
    let response: Bundle;
    try {
      response = await super.transaction(bundle);
    } catch (error) {
      this.transactions.push({ entries, answer: String((error as { status?: number }).status) });
      throw error;
    }
    const statuses = (response.entry ?? []).map((e) =>
      String((e as { response?: { status?: string } }).response?.status).slice(0, 3),
    );
    this.transactions.push({ entries, answer: statuses.join(' ') });
    await this.afterTransaction?.(entries);
    return response;
  }

  override read<T extends Resource = Resource>(resourceType: string, id: string): Promise<T> {
    this.reads.push(`${resourceType}/${id}`);
    return super.read<T>(resourceType, id);
  }
}

/**
 * The referral workflow against the real FHIR API, Kafka and PostgreSQL. Directory and consent
 * facts are published on their topics as the directory and consent services would publish them.
 */
describe('referral workflow: routing, consent gate, mirroring and re-routing', () => {
  jest.setTimeout(180_000);
  const platform = 'carerelay-platform';
  const hospital = uniqueName('hospital').replace(/_/g, '-');
  // A ZIP code of this run only, so earlier runs' directory entries never match.
  const zip = String(randomInt(0, 1000)).padStart(5, '0');
  const org = (name: string) => `${name}-${zip}-${Date.now().toString(36)}`;
  const spanishPantry = org('cbo-spanish-pantry');
  const englishPantry = org('cbo-english-pantry');
  const housing = org('cbo-housing');
  const referralSchema = uniqueName('referral_wf').toLowerCase();

  let fhirApi: TestFhirApi;
  let referralService: INestApplication;
  let events: { messages: CollectedMessage[]; stop: () => Promise<void> };
  let changes: { messages: CollectedMessage[]; stop: () => Promise<void> };
  let platformClient: HookedFhirClient;
  let groupId: string;
  let db: PgClient;
  const client = (actor: string) =>
    new FhirApiClient(fhirApi.baseUrl, undefined, { customHeaders: { 'X-Dev-Actor': actor } });
  let ehr: FhirApiClient;

  const publish = publishEvent;

  beforeAll(async () => {
    const { DATABASE_URL } = testEnv();
    fhirApi = await startTestFhirApi();
    ehr = client(`ehr:${hospital}`);
    groupId = uniqueName('referral-service-wf');
    platformClient = new HookedFhirClient(fhirApi.baseUrl, undefined, {
      customHeaders: { 'X-Dev-Actor': `platform:${platform}` },
    });
    referralService = await startTestReferralService({
      fhirBaseUrl: fhirApi.baseUrl,
      platformOrganizationId: platform,
      schema: referralSchema,
      groupId,
      fhirClient: platformClient,
      env: { ROUTING_MAX_ATTEMPTS: '3', ROUTING_WHEN_EXHAUSTED: 'on-hold' },
    });
    events = await collectTopics([TOPICS.referralEvents.name]);
    changes = await collectTopics([TOPICS.fhirChanges.name]);
    db = new PgClient({ connectionString: DATABASE_URL });
    await db.connect();
    await publishCbos(zip, [
      {
        id: spanishPantry,
        name: 'Despensa Comunitaria',
        categories: ['food-insecurity'],
        languages: ['es', 'en'],
      },
      { id: englishPantry, name: 'Community Pantry', categories: ['food-insecurity'] },
      { id: housing, name: 'Housing Help', categories: ['housing-instability'], languages: ['es'] },
    ]);
  });

  afterAll(async () => {
    await db?.end();
    await changes?.stop();
    await events?.stop();
    await referralService?.close();
    await fhirApi?.close();
    await dropSchema(testEnv().DATABASE_URL, referralSchema);
  });

  /** An EHR's referral: Patient, ServiceRequest, Task owned by the platform, in one transaction. */
  async function sendReferral(
    language: string,
  ): Promise<{ taskId: string; patientId: string; serviceRequestId: string }> {
    const response = await ehr.transaction({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:patient',
          resource: {
            resourceType: 'Patient',
            name: [{ family: 'Rivera', given: ['Ana'] }],
            birthDate: '1980-04-02',
            address: [{ line: ['1 Main St'], city: 'Springfield', state: 'IL', postalCode: zip }],
            communication: [
              {
                language: { coding: [{ system: 'urn:ietf:bcp:47', code: language }] },
                preferred: true,
              },
            ],
          },
          request: { method: 'POST', url: 'Patient' },
        },
        {
          fullUrl: 'urn:uuid:service-request',
          resource: {
            resourceType: 'ServiceRequest',
            status: 'active',
            intent: 'order',
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
            code: {
              coding: [
                {
                  system: 'http://snomed.info/sct',
                  code: '467771000124109',
                  display: 'Assistance with application for food pantry program',
                },
              ],
            },
            subject: { reference: 'urn:uuid:patient' },
            requester: { reference: `Organization/${hospital}` },
            authoredOn: new Date().toISOString(),
          },
          request: { method: 'POST', url: 'ServiceRequest' },
        },
        {
          fullUrl: 'urn:uuid:task',
          resource: {
            resourceType: 'Task',
            status: 'requested',
            intent: 'order',
            code: {
              coding: [{ system: 'http://hl7.org/fhir/CodeSystem/task-code', code: 'fulfill' }],
            },
            focus: { reference: 'urn:uuid:service-request' },
            for: { reference: 'urn:uuid:patient' },
            authoredOn: new Date().toISOString(),
            requester: { reference: `Organization/${hospital}` },
            owner: { reference: `Organization/${platform}` },
          },
          request: { method: 'POST', url: 'Task' },
        },
      ],
    });
    const idOf = (type: string) => {
      const location = (response.entry ?? [])
        .map((e) => (e as { response?: { location?: string } }).response?.location)
        .find((l) => l?.startsWith(`${type}/`));
      return location!.split('/')[1];
    };
    return {
      taskId: idOf('Task'),
      patientId: idOf('Patient'),
      serviceRequestId: idOf('ServiceRequest'),
    };
  }

  const statesOf = (referralId: string) =>
    events.messages
      .filter((m) => m.key === referralId)
      .map((m) => JSON.parse(m.value!).state as string);

  const waitForState = (referralId: string, state: string) =>
    waitFor(
      () =>
        events.messages
          .map((m) => (m.key === referralId ? JSON.parse(m.value!) : undefined))
          .find((e) => e?.state === state),
      { what: `referral ${referralId} ${state}`, timeoutMs: 60_000 },
    );

  const grantConsent = async (patientId: string, consentId = uniqueName('consent')) => {
    await publish(EventTypes.consentGranted, {
      consentId,
      patientId,
      organizationId: null,
      occurredAt: new Date().toISOString(),
      securityLabels: [],
    } satisfies ConsentEventV1);
    return consentId;
  };

  /** Has referral-service taken this event in, or is one of its transactions waiting for a lock? */
  const takenInOrWaiting = async (eventId: string): Promise<boolean> => {
    const applied = await db.query(
      `SELECT 1 FROM "${referralSchema}".inbox WHERE consumer = $1 AND event_id = $2`,
      [groupId, eventId],
    );
    if (applied.rowCount) return true;
    const waiting = await db.query(
      `SELECT 1 FROM pg_stat_activity
        WHERE wait_event_type = 'Lock' AND datname = current_database()`,
    );
    return (waiting.rowCount ?? 0) > 0;
  };

  /** The referral-service group's committed offset in a fhir.changes.v1 partition (-1: none). */
  const committedOffset = async (partition: number): Promise<number> => {
    const admin = testKafka().admin();
    await admin.connect();
    try {
      const [topic] = await admin.fetchOffsets({ groupId, topics: [TOPICS.fhirChanges.name] });
      return Number(topic.partitions.find((p) => p.partition === partition)?.offset ?? -1);
    } finally {
      await admin.disconnect();
    }
  };

  /** The reconciliation's repairs of this kind so far, as the service's /metrics tells them. */
  const repairsCounted = async (kind: string): Promise<number> =>
    metricValue(await referralService.getUrl(), 'carerelay_referral_repairs_total', { kind });

  /** The routing transactions of a referral (the key of its conditional creates names it). */
  const transactionsOf = (referralId: string) =>
    platformClient.transactions
      .filter((t) => t.entries.some((e) => e.includes(`|${referralId}-`)))
      .map((t) => ({ ...t, entries: t.entries.map((e) => e.replace(/\?identifier=.*$/, '')) }));

  async function cboTaskOf(referralId: string, organizationId: string): Promise<Resource> {
    const routed = await waitForState(referralId, 'routed');
    expect(routed.targetOrganizationId).toBe(organizationId);
    // Read as the platform: what a CBO may see of it (consent masking) is the FHIR API's test.
    return client(`platform:${platform}`).read('Task', routed.cboTaskId);
  }

  async function cboMoves(
    organizationId: string,
    taskId: string,
    change: (task: Resource) => Resource,
  ) {
    await client(`cbo:${organizationId}`).updateWithIfMatch('Task', taskId, change);
  }

  it('waits for consent, routes to the Spanish-speaking pantry in the ZIP, and closes the loop', async () => {
    const { taskId, patientId, serviceRequestId } = await sendReferral('es');
    await waitForState(taskId, 'awaiting-consent');
    const waiting = await ehr.read('Task', taskId);
    expect(waiting.businessStatus?.text).toBe('awaiting-consent');
    const reasonOf = async () =>
      (await db.query(`SELECT reason FROM "${referralSchema}".referral WHERE id = $1`, [taskId]))
        .rows[0]?.reason;
    expect(await reasonOf()).toMatch(/consent/i);

    await grantConsent(patientId);
    const cboTask = await cboTaskOf(taskId, spanishPantry);
    const routed = await waitForState(taskId, 'routed');
    expect(routed.explanation.chosen.reasons.join(' ')).toMatch(/Spanish/);
    expect(cboTask).toMatchObject({
      status: 'requested',
      intent: 'order',
      partOf: [{ reference: `Task/${taskId}` }],
      owner: { reference: `Organization/${spanishPantry}` },
      for: { reference: `Patient/${patientId}` },
    });
    const fillerOrder = await client(`platform:${platform}`).read(
      'ServiceRequest',
      cboTask.focus.reference.split('/')[1],
    );
    // The platform accepted the referral once it had placed it.
    expect(await ehr.read('Task', taskId)).toMatchObject({
      status: 'accepted',
      businessStatus: { text: 'routed' },
    });
    expect(fillerOrder).toMatchObject({
      intent: 'filler-order',
      basedOn: [{ reference: `ServiceRequest/${serviceRequestId}` }],
    });

    const cbo = client(`cbo:${spanishPantry}`);
    await cboMoves(spanishPantry, cboTask.id!, (t) => ({ ...t, status: 'accepted' }));
    await waitFor(async () => (await ehr.read('Task', taskId)).status === 'accepted', {
      what: 'source accepted',
    });
    await cboMoves(spanishPantry, cboTask.id!, (t) => ({ ...t, status: 'in-progress' }));
    const procedure: Resource = await cbo.create<Resource>({
      resourceType: 'Procedure',
      status: 'completed',
      basedOn: [{ reference: `ServiceRequest/${fillerOrder.id}` }],
      code: { coding: [{ system: 'http://snomed.info/sct', code: '467771000124109' }] },
      subject: { reference: `Patient/${patientId}` },
      performedDateTime: new Date().toISOString(),
    });
    const output = [
      {
        type: {
          coding: [
            {
              system:
                'http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes',
              code: 'resulting-activity',
            },
          ],
        },
        valueReference: { reference: `Procedure/${procedure.id}` },
      },
    ];
    await cboMoves(spanishPantry, cboTask.id!, (t) => ({ ...t, status: 'completed', output }));

    const closed = await waitFor(
      async () => {
        const source = await ehr.read('Task', taskId);
        return source.status === 'completed' ? source : undefined;
      },
      { what: 'the source Task completed', timeoutMs: 60_000 },
    );
    expect(closed.output).toEqual(output);
    await waitFor(
      async () => (await ehr.read('ServiceRequest', serviceRequestId)).status === 'completed',
      {
        what: 'the source ServiceRequest completed',
      },
    );
    await waitForState(taskId, 'completed');
    // The order's completion and the Task's went together, each from the version last seen.
    expect(
      platformClient.transactions.filter((t) =>
        t.entries.some((e) => e.startsWith(`PUT ServiceRequest/${serviceRequestId}`)),
      ),
    ).toEqual([
      {
        entries: [
          `PUT ServiceRequest/${serviceRequestId} W/"1"`,
          `PUT Task/${taskId} ${`W/"${Number(closed.meta?.versionId) - 1}"`}`,
        ],
        answer: '200 200',
      },
    ]);
    expect(statesOf(taskId)).toEqual([
      'requested',
      'awaiting-consent',
      'routed',
      'accepted',
      'in-progress',
      'completed',
    ]);
    // The routing and the source Task's acceptance were one transaction, from the version the
    // workflow had written (awaiting consent).
    expect(transactionsOf(taskId)).toEqual([
      {
        entries: ['POST ServiceRequest', 'POST Task', `PUT Task/${taskId} W/"2"`],
        answer: '201 201 200',
      },
    ]);
    // Each of the workflow's writes started from the version it last saw: the source Task (every
    // update above) and the CBO Task (whose output came with its change) were never read back,
    // the ServiceRequest only once, for the source context.
    // The wait for consent is over: its reason is not kept on the completed referral.
    expect(await reasonOf()).toBeNull();
    const readOf = (reference: string) => platformClient.reads.filter((r) => r === reference);
    expect(readOf(`Task/${taskId}`)).toEqual([]);
    expect(readOf(`Task/${cboTask.id}`)).toEqual([]);
    expect(readOf(`ServiceRequest/${serviceRequestId}`)).toHaveLength(1);

    // Every version of the source Task after the EHR's first was the workflow's own write: its
    // consumer passed them over before any SQL (no inbox row) once it had read past them.
    const sourceChanges = await waitFor(
      () => {
        const found = changes.messages.filter((m) => m.key === `Task/${taskId}`);
        const versions = found.map((m) => JSON.parse(m.value!).versionId);
        return versions.includes(closed.meta?.versionId) ? found : undefined;
      },
      { what: 'every version of the source Task on fhir.changes' },
    );
    expect(sourceChanges.length).toBeGreaterThan(3);
    const last = sourceChanges.at(-1)!;
    await waitFor(async () => (await committedOffset(last.partition)) > Number(last.offset), {
      what: 'referral-service to read past the source Task changes',
      timeoutMs: 30_000,
    });
    const inbox = await db.query(
      `SELECT event_id FROM "${referralSchema}".inbox WHERE consumer = $1 AND event_id = ANY($2)`,
      [groupId, sourceChanges.map((m) => m.headers.ce_id)],
    );
    expect(inbox.rows.map((r) => r.event_id)).toEqual([sourceChanges[0].headers.ce_id]);
  });

  it('writes one resource at a time, from fresh reads, when its copies of the source are stale', async () => {
    const { taskId, patientId, serviceRequestId } = await sendReferral('es');
    await waitForState(taskId, 'awaiting-consent');
    // The EHR writes a version the workflow has not seen: the routing's If-Match no longer holds.
    const note = [{ text: 'Prefers a call after 5 pm' }];
    await ehr.updateWithIfMatch('Task', taskId, (t) => ({ ...t, note }));
    await grantConsent(patientId);
    await cboTaskOf(taskId, spanishPantry);

    expect(transactionsOf(taskId)).toEqual([
      {
        entries: ['POST ServiceRequest', 'POST Task', `PUT Task/${taskId} W/"2"`],
        answer: '412',
      },
      // Nothing of the refused one was kept: the routing alone created both (201, not 200).
      { entries: ['POST ServiceRequest', 'POST Task'], answer: '201 201' },
    ]);
    // The update then read the EHR's version and kept its note.
    expect(platformClient.reads.filter((r) => r === `Task/${taskId}`)).toEqual([`Task/${taskId}`]);
    expect(await ehr.read('Task', taskId)).toMatchObject({
      status: 'accepted',
      businessStatus: { text: 'routed' },
      note,
    });

    // The same at the close: the EHR amends its order, so completing it together with the Task
    // (from the versions the workflow holds) is refused, and each goes alone from a fresh read.
    const cboTask = await cboTaskOf(taskId, spanishPantry);
    await ehr.updateWithIfMatch('ServiceRequest', serviceRequestId, (sr) => ({ ...sr, note }));
    for (const status of ['accepted', 'in-progress', 'completed'])
      await cboMoves(spanishPantry, cboTask.id!, (t) => ({ ...t, status }));
    await waitForState(taskId, 'completed');
    const completions = platformClient.transactions.filter((t) =>
      t.entries.some((e) => e.startsWith(`PUT ServiceRequest/${serviceRequestId}`)),
    );
    expect(completions).toEqual([
      {
        entries: [
          `PUT ServiceRequest/${serviceRequestId} W/"1"`,
          expect.stringMatching(/^PUT Task/),
        ],
        answer: '412',
      },
    ]);
    expect(await ehr.read('ServiceRequest', serviceRequestId)).toMatchObject({
      status: 'completed',
      note,
    });
    expect(await ehr.read('Task', taskId)).toMatchObject({ status: 'completed', note });
  });

  it('sends a rejected referral to the next match, and puts it on hold when every match declined', async () => {
    const { taskId, patientId } = await sendReferral('en');
    await grantConsent(patientId);
    const first = await cboTaskOf(taskId, englishPantry);
    await cboMoves(englishPantry, first.id!, (t) => ({
      ...t,
      status: 'rejected',
      statusReason: { text: 'No capacity this month' },
    }));

    await waitFor(() => statesOf(taskId).filter((s) => s === 'routed').length === 2, {
      what: 'the second routing',
    });
    const rerouted = events.messages
      .map((m) => (m.key === taskId ? JSON.parse(m.value!) : undefined))
      .filter((e) => e?.state === 'routed')[1];
    expect(rerouted.targetOrganizationId).toBe(spanishPantry);
    const second = await client(`platform:${platform}`).read('Task', rerouted.cboTaskId);
    await cboMoves(spanishPantry, second.id!, (t) => ({
      ...t,
      status: 'rejected',
      statusReason: { text: 'Waitlist full' },
    }));

    const onHold = await waitForState(taskId, 'on-hold');
    expect(onHold.reason).toMatch(/declined or did not respond \(2 tried\)/);
    const source = await ehr.read('Task', taskId);
    expect(source.status).toBe('on-hold');
    expect(source.businessStatus.text).toBe('needs-coordinator');
    expect(source.statusReason.text).toMatch(/declined/);
    // Consent was published right after the referral: it may or may not have waited for it.
    expect(statesOf(taskId).filter((s) => s !== 'awaiting-consent')).toEqual([
      'requested',
      'routed',
      'rejected',
      'rerouted',
      'routed',
      'rejected',
      'on-hold',
    ]);
  });

  it('cancels the CBO Task with a reason when the patient revokes consent midway', async () => {
    const { taskId, patientId } = await sendReferral('es');
    const consentId = await grantConsent(patientId);
    const cboTask = await cboTaskOf(taskId, spanishPantry);
    await cboMoves(spanishPantry, cboTask.id!, (t) => ({ ...t, status: 'accepted' }));
    await waitForState(taskId, 'accepted');

    await publish(EventTypes.consentRevoked, {
      consentId,
      patientId,
      organizationId: null,
      occurredAt: new Date().toISOString(),
      securityLabels: [],
    });
    const waiting = await waitFor(
      () =>
        events.messages
          .map((m) => (m.key === taskId ? JSON.parse(m.value!) : undefined))
          .find((e) => e?.state === 'awaiting-consent' && e.reason?.includes('revoked')),
      { what: 'awaiting consent again', timeoutMs: 60_000 },
    );
    expect(waiting.reason).toBe('Patient revoked consent to share information');
    const cancelled = await client(`platform:${platform}`).read('Task', cboTask.id!);
    expect(cancelled).toMatchObject({
      status: 'cancelled',
      statusReason: { text: 'Patient revoked consent to share information' },
    });
    const source = await ehr.read('Task', taskId);
    expect(source).toMatchObject({
      status: 'on-hold',
      businessStatus: { text: 'awaiting-consent' },
    });
  });

  it('re-routes a referral whose acceptance deadline passed, withdrawing the first CBO Task', async () => {
    const { taskId, patientId } = await sendReferral('en');
    await grantConsent(patientId);
    const first = await cboTaskOf(taskId, englishPantry);
    // As the follow-up service announces a breached acceptance deadline for attempt 1.
    await publish(EventTypes.followupBreached, {
      referralId: taskId,
      kind: 'acceptance',
      occurredAt: new Date().toISOString(),
      dueAt: new Date().toISOString(),
      organizationId: englishPantry,
      detail: { attempt: 1 },
    });
    await waitFor(() => statesOf(taskId).filter((s) => s === 'routed').length === 2, {
      what: 'the second routing',
    });
    const withdrawn = await client(`platform:${platform}`).read('Task', first.id!);
    expect(withdrawn).toMatchObject({
      status: 'cancelled',
      statusReason: { text: 'Not accepted before the acceptance deadline' },
    });
    const rejected = events.messages
      .map((m) => (m.key === taskId ? JSON.parse(m.value!) : undefined))
      .find((e) => e?.state === 'rejected');
    expect(rejected).toMatchObject({
      reason: 'Not accepted before the acceptance deadline',
      targetOrganizationId: englishPantry,
    });

    // A late duplicate breach of the same attempt changes nothing.
    await publish(EventTypes.followupBreached, {
      referralId: taskId,
      kind: 'acceptance',
      occurredAt: new Date().toISOString(),
      detail: { attempt: 1 },
    });
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(statesOf(taskId).filter((s) => s === 'routed')).toHaveLength(2);
  });

  describe('a CBO that moves its Task before the routing that made it has committed', () => {
    /** What the CBO writes as the outcome: a Procedure in Task.output. */
    const outcomeOf = (procedureId: string) => [
      {
        type: {
          coding: [
            {
              system:
                'http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes',
              code: 'resulting-activity',
            },
          ],
        },
        valueReference: { reference: `Procedure/${procedureId}` },
      },
    ];

    /**
     * Routes a waiting referral as its consent event would, stopping at the step where a dying
     * FHIR API failed it in the kill -9 run: the CBO Task is created (the source Task accepted in
     * the same transaction), the referral row not yet updated. There the routing either waits or
     * fails (its answer lost, as when the FHIR API dies before it is sent); meanwhile the CBO
     * accepts and completes the Task and referral-service's consumer takes the changes in. Then
     * the routing finishes, or is retried. Either way the source Task must end completed with the
     * CBO's outcome.
     */
    async function completeWhileRoutingIsStopped(routing: 'waits' | 'fails') {
      const { taskId, patientId, serviceRequestId } = await sendReferral('en');
      await waitForState(taskId, 'awaiting-consent');
      const dataSource = referralService.get(DataSource);
      const handler = referralService.get(ReferralEventsHandler);
      const consent = newCloudEvent({
        source: '/carerelay/test',
        type: EventTypes.consentGranted.type,
        data: {
          consentId: uniqueName('consent'),
          patientId,
          organizationId: null,
          occurredAt: new Date().toISOString(),
          securityLabels: [],
        } satisfies ConsentEventV1,
      });
      const routeOnce = () =>
        dataSource.transaction((manager) =>
          handler.onConsentGranted(consent, { manager } as EventContext),
        );
      let reach!: () => void;
      let release!: () => void;
      const reached = new Promise<void>((resolve) => (reach = resolve));
      const released = new Promise<void>((resolve) => (release = resolve));
      let stopped = false;
      let isReleased = false;
      released.then(() => (isReleased = true)).catch(() => undefined);
      platformClient.afterTransaction = async (entries) => {
        if (!entries.some((e) => e.includes(`|${taskId}-1`)) || isReleased) return;
        if (routing === 'fails') {
          // Every try fails until released: the retries, too, are held at this step.
          reach();
          throw new FhirRequestError(0, undefined, 'transaction: fetch failed');
        }
        if (stopped) return;
        stopped = true;
        reach();
        await released;
      };
      try {
        const firstRouting = routeOnce();
        firstRouting.catch(() => undefined);
        await reached;
        const found = await client(`platform:${platform}`).search('Task', {
          identifier: `${CBO_TASK_IDENTIFIER}|${taskId}-1`,
        });
        const cboTask = found.entry?.[0]?.resource as Resource;
        expect(cboTask).toBeDefined();
        const cbo = (cboTask.owner.reference as string).split('/')[1];
        await cboMoves(cbo, cboTask.id!, (t) => ({ ...t, status: 'accepted' }));
        const procedure = await client(`cbo:${cbo}`).create<Resource>({
          resourceType: 'Procedure',
          status: 'completed',
          basedOn: [{ reference: cboTask.focus.reference }],
          code: { coding: [{ system: 'http://snomed.info/sct', code: '467771000124109' }] },
          subject: { reference: `Patient/${patientId}` },
          performedDateTime: new Date().toISOString(),
        });
        const output = outcomeOf(procedure.id!);
        const completed = await client(`cbo:${cbo}`).updateWithIfMatch(
          'Task',
          cboTask.id!,
          (t) => ({ ...t, status: 'completed', output }),
        );
        const completion = await waitFor(
          () =>
            changes.messages.find(
              (m) =>
                m.key === `Task/${cboTask.id}` &&
                JSON.parse(m.value!).versionId === completed.meta?.versionId,
            ),
          { what: 'the CBO Task completion on fhir.changes' },
        );
        await waitFor(() => takenInOrWaiting(completion.headers.ce_id), {
          what: 'referral-service to see the completion',
        });
        if (routing === 'fails') {
          // The routing's FHIR writes run after the transaction that decided it: its failed try
          // is recorded on the referral's open step (and retried), not thrown at the consumer.
          await firstRouting;
          const step = await db.query(
            `SELECT pending->>'lastError' AS error FROM "${referralSchema}".referral WHERE id = $1`,
            [taskId],
          );
          expect(step.rows[0]?.error).toMatch(/fetch failed/);
          release();
          await routeOnce();
        } else {
          release();
          await firstRouting;
        }

        const closed = await waitFor(
          async () => {
            const source = await ehr.read('Task', taskId);
            return source.status === 'completed' ? source : undefined;
          },
          { what: 'the source Task completed', timeoutMs: 30_000 },
        );
        expect(closed.output).toEqual(output);
        // Announced once every write of the step committed, the ServiceRequest's too.
        await waitForState(taskId, 'completed');
        expect((await ehr.read('ServiceRequest', serviceRequestId)).status).toBe('completed');
        expect(statesOf(taskId).filter((s) => s === 'routed')).toHaveLength(1);
      } finally {
        release();
        platformClient.afterTransaction = undefined;
      }
    }

    it('mirrors the completion once the routing commits (the change waited for it)', () =>
      completeWhileRoutingIsStopped('waits'));

    it('mirrors the completion when the routing failed and its retry finds the Task moved on', () =>
      completeWhileRoutingIsStopped('fails'));
  });

  it('repairs, once and counted, a referral whose CBO Task moved on without it', async () => {
    const { taskId, patientId } = await sendReferral('en');
    await grantConsent(patientId);
    const routed = await waitForState(taskId, 'routed');
    const cbo = routed.targetOrganizationId as string;
    const cboTaskId = routed.cboTaskId as string;
    // The referral loses sight of its CBO Task, so that the CBO's acceptance and completion find
    // nothing to move (the loss the reconciliation is the net for)...
    await db.query(`UPDATE "${referralSchema}".referral SET cbo_task_id = NULL WHERE id = $1`, [
      taskId,
    ]);
    await cboMoves(cbo, cboTaskId, (t) => ({ ...t, status: 'accepted' }));
    const completed = await client(`cbo:${cbo}`).updateWithIfMatch('Task', cboTaskId, (t) => ({
      ...t,
      status: 'completed',
    }));
    const completion = await waitFor(
      () =>
        changes.messages.find(
          (m) =>
            m.key === `Task/${cboTaskId}` &&
            JSON.parse(m.value!).versionId === completed.meta?.versionId,
        ),
      { what: 'the CBO Task completion on fhir.changes' },
    );
    await waitFor(() => takenInOrWaiting(completion.headers.ce_id), {
      what: 'referral-service to pass over the completion',
    });
    // ...then finds it again, the referral untouched for an hour.
    await db.query(
      `UPDATE "${referralSchema}".referral SET cbo_task_id = $2, updated_at = now() - interval '1 hour'
        WHERE id = $1`,
      [taskId, cboTaskId],
    );
    expect((await ehr.read('Task', taskId)).status).toBe('accepted');

    const reconciler = referralService.get(ReferralReconciler);
    const before = await repairsCounted('cbo-task');
    const first = await reconciler.reconcileDue(60_000);
    expect(first.filter((r) => r.referralId === taskId)).toEqual([
      { referralId: taskId, kind: 'cbo-task', from: 'routed', to: 'completed' },
    ]);
    expect(await repairsCounted('cbo-task')).toBe(
      before + first.filter((r) => r.kind === 'cbo-task').length,
    );
    expect((await ehr.read('Task', taskId)).status).toBe('completed');
    await waitForState(taskId, 'completed');

    const again = await reconciler.reconcileDue(0);
    expect(again.filter((r) => r.referralId === taskId)).toEqual([]);
  });
});
