import { rmSync } from 'node:fs';
import { TOPICS } from '@carerelay/contracts';
import { dropSchema } from '@carerelay/persistence';
import {
  collectTopics,
  referralEventRecord,
  startGroupAtLatest,
  testEnv,
  testKafka,
  uniqueName,
  waitFor,
  useTestTokens,
} from '@carerelay/testing';
import { ServiceProcess, compileService, startServiceProcess } from './service-process';

// The service's API takes the platform's token: these tests sign their own (useTestTokens).
const tokens = useTestTokens();

const BREACHED = 'org.carerelay.followup.breached.v1';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('followup-service as a process: kill -9 with a pending timer', () => {
  jest.setTimeout(180_000);
  const schema = uniqueName('followup_proc_it').toLowerCase();
  const env = {
    ...testEnv(),
    FOLLOWUP_DB_SCHEMA: schema,
    FOLLOWUP_CONSUMER_GROUP: uniqueName('followup-service-proc-it'),
    FOLLOWUP_SERVICE_PORT: '0',
    FOLLOWUP_POLL_MS: '100',
    OUTBOX_POLL_MS: '50',
  };
  let distDir: string;
  let service: ServiceProcess | undefined;

  beforeAll(async () => {
    // Only this run's referral events: a new group would otherwise replay every earlier run's.
    await startGroupAtLatest(env.FOLLOWUP_CONSUMER_GROUP, [TOPICS.referralEvents.name]);
    distDir = compileService();
  });

  afterAll(async () => {
    if (service && service.child.exitCode === null) {
      service.child.kill('SIGTERM');
      await service.exited;
    }
    await dropSchema(testEnv().DATABASE_URL, schema);
    if (distDir) rmSync(distDir, { recursive: true, force: true });
  });

  it('fires the breach once after the process is killed and started again past the deadline', async () => {
    service = await startServiceProcess(distDir, env);
    const put = await tokens.issuer.fetch(`${service.url}/policies/default`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        acceptance: { within: 'PT3S', calendar: 'calendar' },
        reminders: [],
        closure: { within: 'P30D' },
      }),
    });
    expect(put.status).toBe(200);

    const followups = await collectTopics([TOPICS.followupEvents.name]);
    const referralId = uniqueName('ref-proc').replace(/_/g, '-');
    const producer = testKafka().producer();
    await producer.connect();
    await producer.send({
      topic: TOPICS.referralEvents.name,
      messages: [
        referralEventRecord(referralId, 'routed', { targetOrganizationId: 'cbo-9', attempt: 1 }),
      ],
    });
    await producer.disconnect();

    const url = service.url;
    const pending = await waitFor(
      async () => {
        const timers = (await (
          await tokens.issuer.fetch(`${url}/referrals/${referralId}/timers`)
        ).json()) as Array<{
          kind: string;
          status: string;
          dueAt: string;
        }>;
        return timers.find((t) => t.kind === 'acceptance' && t.status === 'pending');
      },
      { what: 'a pending acceptance timer', timeoutMs: 30_000 },
    );
    service.child.kill('SIGKILL');
    await service.exited;

    const breaches = () =>
      followups.messages.filter((m) => m.key === referralId && m.headers.ce_type === BREACHED);
    await sleep(Math.max(0, new Date(pending.dueAt).getTime() - Date.now()) + 1500);
    expect(breaches()).toHaveLength(0);

    service = await startServiceProcess(distDir, env);
    await waitFor(() => breaches()[0], { what: 'the breach after restart', timeoutMs: 30_000 });
    await sleep(3000);
    await followups.stop();
    expect(breaches()).toHaveLength(1);
    expect(JSON.parse(breaches()[0].value!)).toMatchObject({
      referralId,
      kind: 'acceptance',
      organizationId: 'cbo-9',
      dueAt: pending.dueAt,
      detail: { attempt: 1, stage: 'deadline' },
    });
  });
});
