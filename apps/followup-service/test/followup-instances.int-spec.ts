import { INestApplication } from '@nestjs/common';
import { TOPICS } from '@carerelay/contracts';
import { loadConfig } from '@carerelay/config';
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
import { DataSource } from 'typeorm';
import { startFollowupService } from '../src/bootstrap';
import { FollowupServiceConfig } from '../src/followup-service.config';

// The service's API takes the platform's token: these tests sign their own (useTestTokens).
const tokens = useTestTokens();

const BREACHED = 'org.carerelay.followup.breached.v1';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('followup-service with two instances and late, duplicate referral events', () => {
  jest.setTimeout(120_000);
  const schema = uniqueName('followup_multi_it').toLowerCase();
  const groupId = uniqueName('followup-service-multi-it');
  const config = loadConfig(FollowupServiceConfig, {
    ...testEnv(),
    OUTBOX_POLL_MS: '50',
    FOLLOWUP_POLL_MS: '20',
    FOLLOWUP_POLL_BATCH: '3',
  });
  const apps: INestApplication[] = [];

  beforeAll(async () => {
    // Only this run's referral events: a new group would otherwise replay every earlier run's.
    await startGroupAtLatest(groupId, [TOPICS.referralEvents.name]);
    // One first, so that the migrations run once, then a second on the same schema and group.
    apps.push(await startFollowupService(config, { schema, groupId, port: 0 }));
    apps.push(await startFollowupService(config, { schema, groupId, port: 0 }));
    const put = await tokens.issuer.fetch(`${await apps[0].getUrl()}/policies/default`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        acceptance: { within: 2, calendar: 'calendar' },
        reminders: [],
        closure: { within: 'P30D' },
      }),
    });
    expect(put.status).toBe(200);
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    await dropSchema(testEnv().DATABASE_URL, schema);
  });

  it('fires each timer exactly once while two instances poll, and never resurrects a closed one', async () => {
    const followups = await collectTopics([TOPICS.followupEvents.name]);
    const run = uniqueName('multi').replace(/_/g, '-');
    const open = Array.from({ length: 30 }, (_, i) => `${run}-open-${i}`);
    const closed = Array.from({ length: 5 }, (_, i) => `${run}-closed-${i}`);
    const producer = testKafka().producer();
    await producer.connect();
    const routed = (id: string) =>
      referralEventRecord(id, 'routed', { attempt: 1, targetOrganizationId: 'cbo-1' });
    await producer.send({
      topic: TOPICS.referralEvents.name,
      messages: [
        // Each open referral's routing is published twice, under two event ids.
        ...open.flatMap((id) => [routed(id), routed(id)]),
        // Closed referrals: cancelled, then a late routing and a late request must start nothing.
        ...closed.flatMap((id) => [
          referralEventRecord(id, 'cancelled'),
          routed(id),
          referralEventRecord(id, 'requested'),
        ]),
      ],
    });
    await producer.disconnect();

    const breachesOf = (id: string) =>
      followups.messages.filter((m) => m.key === id && m.headers.ce_type === BREACHED);
    await waitFor(() => open.every((id) => breachesOf(id).length > 0), {
      what: 'a breach for every open referral',
      timeoutMs: 60_000,
    });
    await sleep(3000);
    await followups.stop();

    for (const id of open) expect(breachesOf(id)).toHaveLength(1);
    for (const id of closed) expect(breachesOf(id)).toHaveLength(0);
    const dataSource = apps[0].get(DataSource);
    const [{ pending }] = await dataSource.query(
      `SELECT count(*)::int AS pending FROM "${schema}".timer
        WHERE referral_id = ANY($1) AND fired_at IS NULL AND cancelled_at IS NULL`,
      [closed],
    );
    expect(pending).toBe(0);
    const [{ fired }] = await dataSource.query(
      `SELECT count(*)::int AS fired FROM "${schema}".timer
        WHERE referral_id = ANY($1) AND fired_at IS NOT NULL`,
      [open],
    );
    expect(fired).toBe(30);
  });
});
