import { DataSource, EntityManager, MigrationInterface, QueryRunner } from 'typeorm';
import { EventSchemaError, dlqTopicOf } from '@carerelay/contracts';
import { createServiceDataSource, schemaOf } from '@carerelay/persistence';
import {
  collectTopics,
  createTestTopics,
  deleteTestTopics,
  openTestDataSource,
  testEnv,
  testKafka,
  uniqueName,
  waitFor,
} from '@carerelay/testing';
import { IdempotentConsumer, Outcome, TransientError } from './idempotent.consumer';
import { KafkajsMessageBus } from './kafkajs-message-bus';
import type { DeliveredMessage, MessageBus } from './message-bus';
import { MessagingTables1732300000000 } from './messaging-tables.migration';
import { OutboxRelay, OutboxRow } from './outbox.relay';
import { OutboxWriter } from './outbox.writer';
import { testEventType, type TestThing } from './test-event.fixture';

// A test-only event type on a topic of its own, so runs never see each other's messages.
type ThingHappened = TestThing;
const {
  topic,
  definition: thingHappened,
  registry,
} = testEventType('test.things', 'org.carerelay.test.thing-happened.v1');

class EffectsTable1732300000001 implements MigrationInterface {
  name = 'EffectsTable1732300000001';
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "${schemaOf(queryRunner)}".effects (event_id text NOT NULL, thing_id text NOT NULL, n int NOT NULL)`,
    );
  }
  async down(): Promise<void> {}
}

/** A relay that dies after publishing and before marking its rows sent, the first time. */
class RelayDyingAfterPublish extends OutboxRelay {
  died = false;
  protected override async markSent(manager: EntityManager, rows: OutboxRow[]): Promise<void> {
    if (!this.died) {
      this.died = true;
      throw new Error('relay killed between publish and mark-sent');
    }
    await super.markSent(manager, rows);
  }
}

describe('messaging backbone on real Kafka and PostgreSQL', () => {
  jest.setTimeout(90_000);
  let db: Awaited<ReturnType<typeof openTestDataSource>>;
  let dataSource: DataSource;
  let bus: KafkajsMessageBus;
  let writer: OutboxWriter;

  beforeAll(async () => {
    db = await openTestDataSource('messaging', {
      entities: [],
      migrations: [MessagingTables1732300000000, EffectsTable1732300000001],
    });
    dataSource = db.dataSource;
    await createTestTopics([topic, dlqTopicOf(topic)]);
    bus = new KafkajsMessageBus({
      brokers: testEnv().KAFKA_BROKERS.split(','),
      clientId: 'messaging-test',
    });
    writer = new OutboxWriter(db.schema, '/carerelay/test', registry);
  });

  afterAll(async () => {
    await bus?.close();
    await deleteTestTopics([topic, dlqTopicOf(topic)]).catch(() => undefined);
    await db?.drop();
  });

  const relay = () => new OutboxRelay(dataSource, bus, { schema: db.schema });
  const count = async (sql: string, params: unknown[] = []) =>
    (await dataSource.query(sql, params))[0].n as number;

  /** Runs a relay until the event is on its topic (10 s at most), then stops it. */
  const runUntilPublished = async (
    running: OutboxRelay,
    eventId: string,
    what: string,
    options: { beforeStop?: () => Promise<void> } = {},
  ) => {
    const collector = await collectTopics([topic]);
    try {
      await running.start();
      await waitFor(() => collector.messages.some((m) => m.headers.ce_id === eventId), {
        what,
        timeoutMs: 10_000,
      });
    } finally {
      await options.beforeStop?.();
      await running.stop();
      await collector.stop();
    }
  };

  const effectHandler = async (event: { id: string; data: unknown }, manager: EntityManager) => {
    const data = event.data as ThingHappened;
    await manager.query(
      `INSERT INTO "${db.schema}".effects (event_id, thing_id, n) VALUES ($1, $2, $3)`,
      [event.id, data.thingId, data.n],
    );
  };

  it('publishes an event once per committed transaction and never for a rolled-back one', async () => {
    const committed = await dataSource.transaction((manager) =>
      writer.append(manager, thingHappened, { thingId: 'committed', n: 1 }),
    );
    let rolledBackId: string | undefined;
    await expect(
      dataSource.transaction(async (manager) => {
        rolledBackId = (
          await writer.append(manager, thingHappened, { thingId: 'rolled-back', n: 2 })
        ).id;
        throw new Error('business rule failed after the event was written');
      }),
    ).rejects.toThrow('business rule failed');

    const collector = await collectTopics([topic]);
    expect(await relay().drain()).toBe(1);
    expect(await relay().drain()).toBe(0);
    await waitFor(() => collector.messages.some((m) => m.headers.ce_id === committed.id), {
      what: 'the committed event',
    });
    // give a wrongly published event time to show up before asserting its absence
    await new Promise((resolve) => setTimeout(resolve, 500));
    await collector.stop();

    const ids = collector.messages.map((m) => m.headers.ce_id);
    expect(ids.filter((id) => id === committed.id)).toHaveLength(1);
    expect(ids).not.toContain(rolledBackId);
    const message = collector.messages.find((m) => m.headers.ce_id === committed.id)!;
    expect(message.key).toBe('committed');
    expect(message.headers).toMatchObject({
      ce_type: thingHappened.type,
      ce_source: '/carerelay/test',
      ce_specversion: '1.0',
    });
    expect(JSON.parse(message.value!)).toEqual({ thingId: 'committed', n: 1 });
    expect(
      await count(`SELECT count(*)::int AS n FROM "${db.schema}".outbox WHERE sent_at IS NULL`),
    ).toBe(0);
  });

  it('refuses to write an event that does not match its schema, and writes nothing', async () => {
    const before = await count(`SELECT count(*)::int AS n FROM "${db.schema}".outbox`);
    await expect(
      dataSource.transaction((manager) =>
        writer.append(manager, thingHappened, { thingId: '', n: 1.5 } as ThingHappened),
      ),
    ).rejects.toBeInstanceOf(EventSchemaError);
    expect(await count(`SELECT count(*)::int AS n FROM "${db.schema}".outbox`)).toBe(before);
  });

  it('re-publishes after a relay dies between publish and mark-sent; the inbox absorbs the duplicate', async () => {
    const event = await dataSource.transaction((manager) =>
      writer.append(manager, thingHappened, { thingId: 'crash-relay', n: 3 }),
    );
    const dying = new RelayDyingAfterPublish(dataSource, bus, { schema: db.schema });
    await expect(dying.drain()).rejects.toThrow('relay killed');
    expect(await relay().drain()).toBe(1);

    const groupId = uniqueName('effects-group');
    const outcomes: Outcome[] = [];
    const consumer = new IdempotentConsumer(dataSource, bus, {
      schema: db.schema,
      groupId,
      topics: [topic],
      registry,
      handlerFor: () => (e, ctx) => effectHandler(e, ctx.manager),
    });
    const subscription = await bus.subscribe({
      groupId,
      topics: [topic],
      handle: async (message) => {
        if (message.headers?.ce_id?.toString() === event.id)
          outcomes.push(await consumer.process(message));
        else await consumer.process(message);
      },
    });
    await waitFor(() => outcomes.length >= 2, { what: 'both copies of the event' });
    await subscription.close();

    expect(outcomes.sort()).toEqual(['applied', 'duplicate']);
    expect(
      await count(`SELECT count(*)::int AS n FROM "${db.schema}".effects WHERE event_id = $1`, [
        event.id,
      ]),
    ).toBe(1);
  });

  it('skips an event the consumer ignores before any SQL: no inbox row, no effect', async () => {
    const ignored = await dataSource.transaction((manager) =>
      writer.append(manager, thingHappened, { thingId: 'ignored', n: -1 }),
    );
    const handled = await dataSource.transaction((manager) =>
      writer.append(manager, thingHappened, { thingId: 'handled', n: 6 }),
    );
    await relay().drain();
    const groupId = uniqueName('ignoring-group');
    const consumer = new IdempotentConsumer(dataSource, bus, {
      schema: db.schema,
      groupId,
      topics: [topic],
      registry,
      handlerFor: () => (e, ctx) => effectHandler(e, ctx.manager),
      ignores: (e) => (e.data as ThingHappened).n < 0,
    });
    const outcomes = new Map<string, Outcome>();
    const subscription = await bus.subscribe({
      groupId,
      topics: [topic],
      handle: async (message) => {
        outcomes.set(message.headers!.ce_id!.toString(), await consumer.process(message));
      },
    });
    await waitFor(() => outcomes.has(ignored.id) && outcomes.has(handled.id), {
      what: 'both events',
    });
    await subscription.close();
    expect([outcomes.get(ignored.id), outcomes.get(handled.id)]).toEqual(['skipped', 'applied']);
    const inboxed = (id: string) =>
      count(
        `SELECT count(*)::int AS n FROM "${db.schema}".inbox WHERE consumer = $1 AND event_id = $2`,
        [groupId, id],
      );
    expect([await inboxed(ignored.id), await inboxed(handled.id)]).toEqual([0, 1]);
    const effects = (id: string) =>
      count(`SELECT count(*)::int AS n FROM "${db.schema}".effects WHERE event_id = $1`, [id]);
    expect([await effects(ignored.id), await effects(handled.id)]).toEqual([0, 1]);
  });

  it('keeps publishing after the broker refused a batch, and records the failed attempt', async () => {
    const event = await dataSource.transaction((manager) =>
      writer.append(manager, thingHappened, { thingId: 'broker-down', n: 4 }),
    );
    let refusals = 1;
    // The real bus, refusing its first publish as a broker that is down does.
    const flaky: MessageBus = Object.assign(Object.create(bus) as MessageBus, {
      publish: async (records: Parameters<MessageBus['publish']>[0]) => {
        if (refusals-- > 0) throw new Error('Connection error: connect ECONNREFUSED');
        return bus.publish(records);
      },
    });
    const running = new OutboxRelay(dataSource, flaky, { schema: db.schema, pollMs: 50 });
    await runUntilPublished(running, event.id, 'the event published after the refusal');
    const [row] = await dataSource.query(
      `SELECT publish_attempts, last_error, sent_at FROM "${db.schema}".outbox WHERE id = $1`,
      [event.id],
    );
    expect(row.publish_attempts).toBe(2);
    expect(row.last_error).toMatch(/ECONNREFUSED/);
    expect(row.sent_at).not.toBeNull();
  });

  it('publishes from a pool of its own while every connection of the service pool is taken', async () => {
    const event = await dataSource.transaction((manager) =>
      writer.append(manager, thingHappened, { thingId: 'busy-pool', n: 5 }),
    );
    // The service's pool: one connection, held by a long request for the whole test.
    const service = createServiceDataSource({
      url: testEnv().DATABASE_URL,
      schema: db.schema,
      entities: [],
      migrations: [],
      poolSize: 1,
    });
    await service.initialize();
    const request = service.createQueryRunner();
    await request.connect();
    await request.startTransaction();
    const running = new OutboxRelay(service, bus, { schema: db.schema, pollMs: 50, poolSize: 1 });
    try {
      await runUntilPublished(running, event.id, 'the event published while the pool is busy', {
        // The request ends first: a relay stuck behind it would never stop.
        beforeStop: async () => {
          await request.rollbackTransaction();
          await request.release();
        },
      });
    } finally {
      await service.destroy();
    }
  });

  it('delivers again to a consumer that crashed before committing, and applies the effect once', async () => {
    const event = await dataSource.transaction((manager) =>
      writer.append(manager, thingHappened, { thingId: 'crash-consumer', n: 4 }),
    );
    await relay().drain();
    const groupId = uniqueName('crashing-group');
    const consumer = new IdempotentConsumer(dataSource, bus, {
      schema: db.schema,
      groupId,
      topics: [topic],
      registry,
      handlerFor: () => (e, ctx) => effectHandler(e, ctx.manager),
    });

    // First process: the effect commits, then the process dies before the offset commit.
    const firstBus = new KafkajsMessageBus({
      brokers: testEnv().KAFKA_BROKERS.split(','),
      clientId: 'crashing',
    });
    let delivered: DeliveredMessage | undefined;
    let crashed = false;
    await firstBus.subscribe({
      groupId,
      topics: [topic],
      handle: async (message) => {
        if (crashed) throw new Error('dead process');
        const outcome = await consumer.process(message);
        if (message.headers?.ce_id?.toString() === event.id) {
          expect(outcome).toBe('applied');
          delivered = message;
          crashed = true;
          throw new Error('process crashed before committing the offset');
        }
      },
    });
    await waitFor(() => delivered, { what: 'the first delivery' });
    await firstBus.close();

    const offsetsAfterCrash = await testKafka().admin();
    await offsetsAfterCrash.connect();
    const [committed] = await offsetsAfterCrash.fetchOffsets({ groupId, topics: [topic] });
    const partitionOffset = committed.partitions.find((p) => p.partition === delivered!.partition)!;
    expect(BigInt(partitionOffset.offset)).toBeLessThanOrEqual(BigInt(delivered!.offset));

    // The restarted process gets the message again; the inbox says it is done.
    const outcomes: Outcome[] = [];
    const subscription = await bus.subscribe({
      groupId,
      topics: [topic],
      handle: async (message) => {
        const outcome = await consumer.process(message);
        if (message.headers?.ce_id?.toString() === event.id) outcomes.push(outcome);
      },
    });
    await waitFor(() => outcomes.length >= 1, { what: 'the redelivery' });
    await waitFor(
      async () => {
        const [offsets] = await offsetsAfterCrash.fetchOffsets({ groupId, topics: [topic] });
        const p = offsets.partitions.find((x) => x.partition === delivered!.partition)!;
        return (
          BigInt(p.offset) === BigInt(delivered!.offset) + 1n ||
          BigInt(p.offset) > BigInt(delivered!.offset)
        );
      },
      { what: 'the offset commit (offset + 1)' },
    );
    await subscription.close();
    await offsetsAfterCrash.disconnect();

    expect(outcomes[0]).toBe('duplicate');
    expect(
      await count(`SELECT count(*)::int AS n FROM "${db.schema}".effects WHERE event_id = $1`, [
        event.id,
      ]),
    ).toBe(1);
  });

  it('dead-letters a message after bounded retries with its headers and the error, and the partition moves on', async () => {
    const poison = await dataSource.transaction((manager) =>
      writer.append(manager, thingHappened, { thingId: 'same-key', n: 666 }),
    );
    const next = await dataSource.transaction((manager) =>
      writer.append(manager, thingHappened, { thingId: 'same-key', n: 7 }),
    );
    await relay().drain();
    const dlq = await collectTopics([dlqTopicOf(topic)]);
    const groupId = uniqueName('poison-group');
    const attempts: number[] = [];
    const consumer = new IdempotentConsumer(dataSource, bus, {
      schema: db.schema,
      groupId,
      topics: [topic],
      registry,
      retry: { maxAttempts: 3, initialBackoffMs: 10, maxBackoffMs: 50 },
      handlerFor: () => async (e, ctx) => {
        if ((e.data as ThingHappened).n === 666) {
          attempts.push(ctx.attempt);
          throw new Error('cannot apply 666');
        }
        await effectHandler(e, ctx.manager);
      },
    });
    await consumer.start();
    await waitFor(
      async () =>
        (await count(`SELECT count(*)::int AS n FROM "${db.schema}".effects WHERE event_id = $1`, [
          next.id,
        ])) === 1,
      { what: 'the message after the poison one' },
    );
    const dead = await waitFor(() => dlq.messages.find((m) => m.headers.ce_id === poison.id), {
      what: 'the DLQ record',
    });
    await consumer.stop();
    await dlq.stop();

    expect(attempts).toEqual([1, 2, 3]);
    expect(dead.key).toBe('same-key');
    expect(JSON.parse(dead.value!)).toEqual({ thingId: 'same-key', n: 666 });
    expect(dead.headers).toMatchObject({
      ce_type: thingHappened.type,
      dlq_error: 'cannot apply 666',
      dlq_attempts: '3',
      dlq_consumer: groupId,
      dlq_original_topic: topic,
    });
    // the failed effect left no inbox row: a replay from the DLQ can still apply it
    expect(
      await count(`SELECT count(*)::int AS n FROM "${db.schema}".inbox WHERE event_id = $1`, [
        poison.id,
      ]),
    ).toBe(0);
  });

  it('keeps retrying while a dependency is down instead of dead-lettering', async () => {
    const event = await dataSource.transaction((manager) =>
      writer.append(manager, thingHappened, { thingId: 'outage', n: 8 }),
    );
    await relay().drain();
    let calls = 0;
    const consumer = new IdempotentConsumer(dataSource, bus, {
      schema: db.schema,
      groupId: uniqueName('outage-group'),
      topics: [topic],
      registry,
      retry: { maxAttempts: 2, initialBackoffMs: 5, maxBackoffMs: 20 },
      handlerFor: () => async (e, ctx) => {
        if (e.id !== event.id) return;
        calls++;
        if (calls <= 6) throw new TransientError('FHIR API unavailable');
        await effectHandler(e, ctx.manager);
      },
    });
    await consumer.start();
    await waitFor(
      async () =>
        (await count(`SELECT count(*)::int AS n FROM "${db.schema}".effects WHERE event_id = $1`, [
          event.id,
        ])) === 1,
      { what: 'the effect after the outage' },
    );
    await consumer.stop();
    expect(calls).toBe(7);
  });

  it('dead-letters at once a message that is not a valid event', async () => {
    const producer = testKafka().producer();
    await producer.connect();
    const groupId = uniqueName('invalid-group');
    const dlq = await collectTopics([dlqTopicOf(topic)]);
    const handled: string[] = [];
    const consumer = new IdempotentConsumer(dataSource, bus, {
      schema: db.schema,
      groupId,
      topics: [topic],
      registry,
      handlerFor: () => async (e) => {
        handled.push(e.id);
      },
    });
    await producer.send({
      topic,
      messages: [
        {
          key: 'bad',
          value: '{"thingId":"x"}',
          headers: {
            ce_specversion: '1.0',
            ce_id: 'invalid-1',
            ce_source: 't',
            ce_type: thingHappened.type,
            ce_time: new Date().toISOString(),
          },
        },
        { key: 'bad', value: 'no headers at all' },
      ],
    });
    await producer.disconnect();
    await consumer.start();
    const deadOnes = await waitFor(
      () => {
        const found = dlq.messages.filter((m) => m.key === 'bad');
        return found.length >= 2 ? found : undefined;
      },
      { what: 'both invalid messages in the DLQ' },
    );
    await consumer.stop();
    await dlq.stop();
    expect(handled).not.toContain('invalid-1');
    expect(deadOnes.map((m) => m.headers.dlq_error_type).sort()).toEqual([
      'CloudEventFormatError',
      'EventSchemaError',
    ]);
    expect(deadOnes.find((m) => m.headers.ce_id === 'invalid-1')!.headers.dlq_error).toMatch(
      /must have required property 'n'/,
    );
  });

  it('lets several relays run at once: every event published once, in order per key', async () => {
    const keys = Array.from({ length: 10 }, (_, i) => `ordered-${i}`);
    const writes = Array.from({ length: 300 }, (_, n) => ({ thingId: keys[n % keys.length], n }));
    const collector = await collectTopics([topic]);
    const relays = [relay(), relay(), relay()];
    await Promise.all(relays.map((r) => r.start()));
    // One writer per key, the keys in parallel: per key, commit order is the order of n.
    await Promise.all(
      keys.map(async (key) => {
        for (const data of writes.filter((w) => w.thingId === key)) {
          await dataSource.transaction((m) => writer.append(m, thingHappened, data));
        }
      }),
    );
    await waitFor(
      () => collector.messages.filter((m) => m.key?.startsWith('ordered-')).length >= writes.length,
      { what: 'every ordered event', timeoutMs: 30_000 },
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    await Promise.all(relays.map((r) => r.stop()));
    await collector.stop();

    const ordered = collector.messages.filter((m) => m.key?.startsWith('ordered-'));
    expect(ordered).toHaveLength(writes.length);
    expect(relays.reduce((sum, r) => sum + r.published, 0)).toBe(writes.length);
    for (const key of keys) {
      const ns = ordered.filter((m) => m.key === key).map((m) => JSON.parse(m.value!).n as number);
      expect(ns).toEqual([...ns].sort((a, b) => a - b));
    }
  });
});
