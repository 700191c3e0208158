import { INestApplication } from '@nestjs/common';
import { ReferralEventV1, ReferralState, TOPICS } from '@carerelay/contracts';
import { loadConfig } from '@carerelay/config';
import { dropSchema } from '@carerelay/persistence';
import {
  CollectedMessage,
  collectTopics,
  referralEventRecord,
  testEnv,
  testKafka,
  uniqueName,
  waitFor,
  startGroupAtLatest,
  useTestTokens,
} from '@carerelay/testing';
import { startFollowupService } from '../src/bootstrap';
import { FollowupServiceConfig } from '../src/followup-service.config';

// The service's API takes the platform's token: these tests sign their own (useTestTokens).
const tokens = useTestTokens();

const BREACHED = 'org.carerelay.followup.breached.v1';
const RECORDED = 'org.carerelay.followup.recorded.v1';
const DUE = 'org.carerelay.followup.due.v1';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Acceptance within 2 s; reminders and closure far enough away not to fire during a test. */
const SHORT_POLICY = {
  timeZone: 'UTC',
  acceptance: { within: 'PT2S', calendar: 'calendar' },
  reminders: ['PT1H'],
  closure: { within: 'P30D' },
};

describe('followup-service timers on real Kafka and PostgreSQL', () => {
  jest.setTimeout(120_000);
  const schema = uniqueName('followup_it').toLowerCase();
  const groupId = uniqueName('followup-service-it');
  const config = loadConfig(FollowupServiceConfig, {
    ...testEnv(),
    OUTBOX_POLL_MS: '50',
    FOLLOWUP_POLL_MS: '100',
  });
  const start = () => startFollowupService(config, { schema, groupId, port: 0 });
  let app: INestApplication | undefined;
  let url: string;
  let followups: { messages: CollectedMessage[]; stop: () => Promise<void> };

  const newReferralId = () => uniqueName('ref').replace(/_/g, '-');
  const eventsOf = (referralId: string, type?: string) =>
    followups.messages.filter((m) => m.key === referralId && (!type || m.headers.ce_type === type));

  async function publish(
    referralId: string,
    state: ReferralState,
    more: Partial<ReferralEventV1> = {},
  ) {
    const producer = testKafka().producer();
    await producer.connect();
    await producer.send({
      topic: TOPICS.referralEvents.name,
      messages: [
        referralEventRecord(referralId, state, { requesterOrganizationId: 'hospital-a', ...more }),
      ],
    });
    await producer.disconnect();
  }

  const timersOf = async (referralId: string) =>
    (await (await tokens.issuer.fetch(`${url}/referrals/${referralId}/timers`)).json()) as Array<{
      kind: string;
      stage: string;
      attempt: number | null;
      status: string;
      dueAt: string;
    }>;

  beforeAll(async () => {
    // Only this run's referral events: a new group would otherwise replay every earlier run's.
    await startGroupAtLatest(groupId, [TOPICS.referralEvents.name]);
    followups = await collectTopics([TOPICS.followupEvents.name]);
    app = await start();
    url = await app.getUrl();
    const put = await tokens.issuer.fetch(`${url}/policies/default`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(SHORT_POLICY),
    });
    expect(put.status).toBe(200);
  });

  afterAll(async () => {
    await app?.close();
    await followups?.stop();
    await dropSchema(testEnv().DATABASE_URL, schema);
  });

  it('breaches an unaccepted referral exactly once', async () => {
    const referralId = newReferralId();
    await publish(referralId, 'requested');
    await publish(referralId, 'routed', { attempt: 1, targetOrganizationId: 'cbo-1' });

    const breach = await waitFor(() => eventsOf(referralId, BREACHED)[0], {
      what: 'followup.breached',
      timeoutMs: 30_000,
    });
    expect(breach.headers.ce_subject).toBe(referralId);
    const data = JSON.parse(breach.value!);
    expect(data).toMatchObject({
      referralId,
      kind: 'acceptance',
      organizationId: 'cbo-1',
      detail: { stage: 'deadline', attempt: 1 },
    });
    expect(new Date(data.occurredAt).getTime()).toBeGreaterThanOrEqual(
      new Date(data.dueAt).getTime(),
    );
    await sleep(2000);
    expect(eventsOf(referralId, BREACHED)).toHaveLength(1);
    expect(await timersOf(referralId)).toContainEqual(
      expect.objectContaining({ kind: 'acceptance', stage: 'deadline', status: 'fired' }),
    );
  });

  it('does not breach a referral accepted before its deadline', async () => {
    const referralId = newReferralId();
    await publish(referralId, 'requested');
    await publish(referralId, 'routed', { attempt: 1, targetOrganizationId: 'cbo-1' });
    await publish(referralId, 'accepted', { attempt: 1, targetOrganizationId: 'cbo-1' });
    await waitFor(
      async () =>
        (await timersOf(referralId)).some(
          (t) => t.kind === 'acceptance' && t.status === 'cancelled',
        ),
      { what: 'the acceptance timer cancelled', timeoutMs: 20_000 },
    );
    await sleep(4000);
    expect(eventsOf(referralId, BREACHED)).toHaveLength(0);
  });

  it('keeps a pending timer across a restart and fires it once', async () => {
    const referralId = newReferralId();
    await publish(referralId, 'routed', { attempt: 1, targetOrganizationId: 'cbo-2' });
    const pending = await waitFor(
      async () =>
        (await timersOf(referralId)).find(
          (t) => t.kind === 'acceptance' && t.stage === 'deadline' && t.status === 'pending',
        ),
      { what: 'a pending acceptance timer', timeoutMs: 20_000 },
    );
    await app!.close();
    app = undefined;
    // Down past the deadline: nothing fires while no instance runs.
    await sleep(Math.max(0, new Date(pending.dueAt).getTime() - Date.now()) + 1500);
    expect(eventsOf(referralId, BREACHED)).toHaveLength(0);

    app = await start();
    url = await app.getUrl();
    await waitFor(() => eventsOf(referralId, BREACHED)[0], {
      what: 'followup.breached after the restart',
      timeoutMs: 30_000,
    });
    await sleep(3000);
    expect(eventsOf(referralId, BREACHED)).toHaveLength(1);
    expect(JSON.parse(eventsOf(referralId, BREACHED)[0].value!)).toMatchObject({
      kind: 'acceptance',
      organizationId: 'cbo-2',
      dueAt: pending.dueAt,
    });
  });

  it('follows the policy of the network the requester belongs to', async () => {
    const put = (networkId: string, body: unknown) =>
      tokens.issuer.fetch(`${url}/policies/${networkId}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const netB = {
      timeZone: 'America/Chicago',
      holidays: ['2026-12-25'],
      acceptance: { within: 'PT1H', calendar: 'calendar', warnBefore: 600 },
      reminders: [],
      closure: { within: 'P10D' },
      organizations: ['hospital-b'],
    };
    expect((await put('net-b', netB)).status).toBe(200);
    const clash = await put('net-c', { ...netB, organizations: ['hospital-b'] });
    expect(clash.status).toBe(409);
    expect(JSON.stringify(await clash.json())).toMatch(/hospital-b \(net-b\)/);

    const referralId = newReferralId();
    const occurredAt = new Date();
    await publish(referralId, 'requested', { requesterOrganizationId: 'hospital-b' });
    await publish(referralId, 'routed', {
      requesterOrganizationId: 'hospital-b',
      targetOrganizationId: 'cbo-3',
      attempt: 1,
      occurredAt: occurredAt.toISOString(),
    });
    const timers = await waitFor(
      async () => {
        const all = await timersOf(referralId);
        return all.filter((t) => t.kind === 'acceptance').length === 2 && all;
      },
      { what: 'acceptance deadline and warning', timeoutMs: 20_000 },
    );
    const deadline = timers.find((t) => t.kind === 'acceptance' && t.stage === 'deadline')!;
    const warning = timers.find((t) => t.kind === 'acceptance' && t.stage === 'warning')!;
    expect(new Date(deadline.dueAt).getTime()).toBe(occurredAt.getTime() + 3_600_000);
    expect(new Date(warning.dueAt).getTime()).toBe(occurredAt.getTime() + 3_000_000);
    expect(timers.every((t) => (t as { networkId?: string }).networkId === 'net-b')).toBe(true);
    expect(timers.some((t) => t.kind === 'closure')).toBe(true);

    const policy = await (await tokens.issuer.fetch(`${url}/policies/net-b`)).json();
    expect(policy).toMatchObject({
      networkId: 'net-b',
      timeZone: 'America/Chicago',
      acceptance: { within: 'PT1H', warnBefore: 'PT10M', calendar: 'calendar' },
      organizations: ['hospital-b'],
    });
  });

  it('records a contact attempt and announces followup.recorded', async () => {
    const referralId = newReferralId();
    const response = await tokens.issuer.fetch(`${url}/referrals/${referralId}/contact-attempts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        channel: 'phone',
        outcome: 'left-message',
        note: 'voicemail, will call back Tuesday',
        organizationId: 'cbo-1',
      }),
    });
    expect(response.status).toBe(201);
    const stored = (await response.json()) as { id: string; note: string };
    expect(stored).toMatchObject({ referralId, channel: 'phone', outcome: 'left-message' });

    const recorded = await waitFor(() => eventsOf(referralId, RECORDED)[0], {
      what: 'followup.recorded',
      timeoutMs: 20_000,
    });
    expect(JSON.parse(recorded.value!)).toMatchObject({
      referralId,
      kind: 'contact-attempt',
      organizationId: 'cbo-1',
      detail: { id: stored.id, channel: 'phone', outcome: 'left-message', hasNote: true },
    });
    expect(recorded.value).not.toContain('voicemail');
    const listed = await (
      await tokens.issuer.fetch(`${url}/referrals/${referralId}/contact-attempts`)
    ).json();
    expect(listed).toEqual([expect.objectContaining({ id: stored.id, note: stored.note })]);
    // A contact attempt is activity: it schedules the inactivity reminder.
    expect(await timersOf(referralId)).toEqual([
      expect.objectContaining({ kind: 'reminder', status: 'pending' }),
    ]);
  });

  it('sends an inactivity reminder as followup.due, and an outcome as followup.recorded', async () => {
    const put = await tokens.issuer.fetch(`${url}/policies/net-r`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        acceptance: { within: 'PT1H', calendar: 'calendar' },
        reminders: ['PT1S'],
        closure: { within: 'P30D' },
        organizations: ['hospital-r'],
      }),
    });
    expect(put.status).toBe(200);
    const referralId = newReferralId();
    await publish(referralId, 'requested', { requesterOrganizationId: 'hospital-r' });
    const due = await waitFor(() => eventsOf(referralId, DUE)[0], {
      what: 'followup.due for the reminder',
      timeoutMs: 20_000,
    });
    expect(JSON.parse(due.value!)).toMatchObject({
      referralId,
      kind: 'reminder',
      detail: { stage: 'reminder', reminder: 1, networkId: 'net-r' },
    });

    const outcome = await tokens.issuer.fetch(`${url}/referrals/${referralId}/followup-outcomes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'resolved', note: 'food pantry visit confirmed' }),
    });
    expect(outcome.status).toBe(201);
    const recorded = await waitFor(() => eventsOf(referralId, RECORDED)[0], {
      what: 'followup.recorded for the outcome',
      timeoutMs: 20_000,
    });
    expect(JSON.parse(recorded.value!)).toMatchObject({
      kind: 'followup-outcome',
      detail: { status: 'resolved', hasNote: true },
    });
    // The outcome is activity: the reminder is scheduled again and fires again.
    await waitFor(() => eventsOf(referralId, DUE).length >= 2, {
      what: 'a second reminder after the outcome',
      timeoutMs: 20_000,
    });
  });

  it('refuses bad input with 400 naming the field', async () => {
    const post = (path: string, body: unknown) =>
      tokens.issuer.fetch(`${url}${path}`, {
        method: path.startsWith('/policies') ? 'PUT' : 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const bad = await post('/referrals/r-1/contact-attempts', {
      channel: 'pigeon',
      outcome: 'reached',
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toMatch(/channel must be one of/);

    const badPolicy = await post('/policies/net-x', {
      timeZone: 'Mars/Olympus',
      acceptance: { within: 'P1M' },
      closure: { within: 'P30D', warnBefore: 'soon' },
      holidays: ['2026-02-30'],
    });
    expect(badPolicy.status).toBe(400);
    const problems = JSON.stringify(await badPolicy.json());
    expect(problems).toMatch(/timeZone must be an IANA time zone/);
    expect(problems).toMatch(/acceptance\.within must be an ISO-8601 duration/);
    expect(problems).toMatch(/closure\.warnBefore must be/);
    expect(problems).toMatch(/holidays must be a date/);

    const badOutcome = await post('/referrals/r-1/followup-outcomes', {
      status: 'resolved',
      extra: 1,
    });
    expect(badOutcome.status).toBe(400);
    expect(JSON.stringify(await badOutcome.json())).toMatch(/property extra should not exist/);
  });

  it('reads the timers of many referrals in one call, only those asked, for the platform only', async () => {
    const [a, b, other] = [newReferralId(), newReferralId(), newReferralId()];
    for (const id of [a, b, other]) {
      await publish(id, 'routed', { attempt: 1, targetOrganizationId: 'cbo-3' });
    }
    for (const id of [a, b, other]) {
      await waitFor(async () => (await timersOf(id)).length > 0, {
        what: `timers of ${id}`,
        timeoutMs: 20_000,
      });
    }
    const batch = async (query: string, headers?: Record<string, string>) =>
      headers
        ? fetch(`${url}/timers?${query}`, { headers })
        : tokens.issuer.fetch(`${url}/timers?${query}`);

    // Never asked: unknown-1 has no timers and adds none; `other` is left out.
    const response = await batch(`referral=${a},${b},unknown-1`);
    expect(response.status).toBe(200);
    const timers = (await response.json()) as Array<{ id: string; referralId: string }>;
    const idsOf = async (id: string) =>
      (await timersOf(id)).map((t) => (t as unknown as { id: string }).id).sort();
    expect(timers.map((t) => t.id).sort()).toEqual(
      [...(await idsOf(a)), ...(await idsOf(b))].sort(),
    );
    expect(new Set(timers.map((t) => t.referralId))).toEqual(new Set([a, b]));
    expect(timers[0]).toMatchObject({ status: expect.stringMatching(/pending|fired|cancelled/) });
    // The parameter repeated reads the same.
    const repeated = await batch(`referral=${a}&referral=${b}`);
    expect(((await repeated.json()) as unknown[]).length).toBe(timers.length);

    const tooMany = Array.from({ length: 101 }, (_, i) => `r-${i}`).join(',');
    for (const query of [
      '',
      'referral=',
      `referral=${a},bad%20id`,
      `referral=${tooMany}`,
      `referral=${a}&x=1`,
    ]) {
      const bad = await batch(query);
      expect({ query, status: bad.status }).toEqual({ query, status: 400 });
      expect(bad.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(JSON.stringify(await bad.json())).toMatch(/referral|property x/);
    }

    expect((await fetch(`${url}/timers?referral=${a}`)).status).toBe(401);
    for (const role of ['cbo', 'coordinator', 'ehr'] as const) {
      const refused = await batch(`referral=${a}`, await tokens.issuer.headers(role, 'cbo-3'));
      expect({ role, status: refused.status }).toEqual({ role, status: 403 });
    }
    // The per-referral read is guarded alike.
    const perReferral = await fetch(`${url}/referrals/${a}/timers`, {
      headers: await tokens.issuer.headers('cbo', 'cbo-3'),
    });
    expect(perReferral.status).toBe(403);
  });

  it('answers its health and metrics endpoints with the pending timers gauge', async () => {
    expect((await fetch(`${url}/health/ready`)).status).toBe(200);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/carerelay_followup_timers_pending\{kind="reminder"\} \d+/);
    expect(metrics).toMatch(
      /carerelay_followup_timers_fired_total\{kind="acceptance",stage="deadline"\} \d+/,
    );
  });
});
