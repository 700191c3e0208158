import { DataSource, EntityManager, MigrationInterface, QueryRunner } from 'typeorm';
import { CloudEvent, dlqTopicOf, newCloudEvent, toKafkaRecord } from '@carerelay/contracts';
import { schemaOf } from '@carerelay/persistence';
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
import { BatchWriter, IdempotentConsumer, Outcome } from './idempotent.consumer';
import { KafkajsMessageBus } from './kafkajs-message-bus';
import type { DeliveredMessage } from './message-bus';
import { MessagingTables1732300000000 } from './messaging-tables.migration';
import { testEventType, type TestThing } from './test-event.fixture';

// A test-only event type on a one-partition topic of its own: a backlog arrives as one batch.
type Counted = TestThing;
const {
  topic,
  definition: counted,
  registry,
} = testEventType('test.batches', 'org.carerelay.test.counted.v1');
const POISON = 666;

class BatchEffects1732300000002 implements MigrationInterface {
  name = 'BatchEffects1732300000002';
  async up(queryRunner: QueryRunner): Promise<void> {
    // No key: an effect applied twice shows as two rows.
    await queryRunner.query(
      `CREATE TABLE "${schemaOf(queryRunner)}".effects (event_id text NOT NULL, run text NOT NULL, n int NOT NULL)`,
    );
  }
  async down(): Promise<void> {}
}

describe('batch consumption on real Kafka and PostgreSQL', () => {
  jest.setTimeout(90_000);
  let db: Awaited<ReturnType<typeof openTestDataSource>>;
  let dataSource: DataSource;
  let bus: KafkajsMessageBus;
  const newBus = () =>
    new KafkajsMessageBus({ brokers: testEnv().KAFKA_BROKERS.split(','), clientId: 'batch-test' });

  beforeAll(async () => {
    db = await openTestDataSource('batches', {
      entities: [],
      migrations: [MessagingTables1732300000000, BatchEffects1732300000002],
    });
    dataSource = db.dataSource;
    await createTestTopics([topic, dlqTopicOf(topic)], 1);
    bus = newBus();
  });

  afterAll(async () => {
    await bus?.close();
    await deleteTestTopics([topic, dlqTopicOf(topic)]).catch(() => undefined);
    await db?.drop();
  });

  const events = (run: string, ns: number[]) =>
    ns.map((n) =>
      newCloudEvent<Counted>({
        source: '/carerelay/test',
        type: counted.type,
        data: { thingId: run, n },
      }),
    );
  const publish = async (records: Array<{ event: CloudEvent } | { raw: string }>) => {
    const producer = testKafka().producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: records.map((r) =>
        'event' in r ? toKafkaRecord(r.event, 'k') : { key: 'k', value: r.raw },
      ),
    });
    await producer.disconnect();
  };
  /** Every effect row of a run: event id → times applied. */
  const applied = async (run: string) => {
    const rows: Array<{ event_id: string; times: number }> = await dataSource.query(
      `SELECT event_id, count(*)::int AS times FROM "${db.schema}".effects WHERE run = $1 GROUP BY event_id`,
      [run],
    );
    return new Map(rows.map((r) => [r.event_id, r.times]));
  };
  const inboxed = async (groupId: string) =>
    (
      await dataSource.query(
        `SELECT count(*)::int AS n FROM "${db.schema}".inbox WHERE consumer = $1`,
        [groupId],
      )
    )[0].n as number;

  /** Writes a whole transaction's effects in one statement; `failures` makes its first calls fail. */
  const effectsWriter = (failures = 0): BatchWriter<CloudEvent> & { calls: number[] } => {
    const calls: number[] = [];
    return {
      calls,
      async write(manager: EntityManager, items: CloudEvent[]) {
        calls.push(items.length);
        const data = items.map((e) => e.data as Counted);
        await manager.query(
          `INSERT INTO "${db.schema}".effects (event_id, run, n)
           SELECT * FROM unnest($1::text[], $2::text[], $3::int[])`,
          [items.map((e) => e.id), data.map((d) => d.thingId), data.map((d) => d.n)],
        );
        // After the rows are written: the transaction fails with half its work done.
        if (calls.length <= failures) throw new Error('connection lost mid-batch');
      },
    };
  };

  const batchConsumer = (groupId: string, writer: BatchWriter<CloudEvent>) =>
    new IdempotentConsumer(dataSource, bus, {
      schema: db.schema,
      groupId,
      topics: [topic],
      registry,
      retry: { maxAttempts: 3, initialBackoffMs: 10, maxBackoffMs: 50 },
      batch: { maxMessages: 500 },
      handlerFor: () => async (event, ctx) => {
        if ((event.data as Counted).n === POISON) throw new Error(`cannot apply ${POISON}`);
        ctx.defer!(writer, event);
      },
    });

  /** Subscribes like the consumer's start(), recording each batch's size and outcomes. */
  const runBatches = async (
    target: KafkajsMessageBus,
    groupId: string,
    consumer: IdempotentConsumer,
    seen: Array<{ size: number; outcomes: Outcome[] }>,
    after?: (messages: DeliveredMessage[]) => void,
  ) =>
    target.subscribe({
      groupId,
      topics: [topic],
      handle: async () => {
        throw new Error('batch mode expected');
      },
      maxBatchSize: 500,
      handleBatch: async (messages) => {
        const outcomes = await consumer.processBatch(messages);
        seen.push({ size: messages.length, outcomes });
        after?.(messages);
      },
    });

  it('applies a batch once: in-batch duplicates and redeliveries skipped, a poison message dead-lettered alone', async () => {
    const run = uniqueName('run');
    const good = events(
      run,
      Array.from({ length: 30 }, (_, i) => i),
    );
    const [poison] = events(run, [POISON]);
    // The poison in the middle; one event published twice; one record that is no event at all.
    await publish([
      ...good.slice(0, 10).map((event) => ({ event })),
      { event: good[3] },
      { event: poison },
      { raw: 'not an event' },
      ...good.slice(10).map((event) => ({ event })),
    ]);
    const dlq = await collectTopics([dlqTopicOf(topic)]);
    const groupId = uniqueName('batch-group');
    const writer = effectsWriter();
    const consumer = batchConsumer(groupId, writer);
    const seen: Array<{ size: number; outcomes: Outcome[] }> = [];
    const subscription = await runBatches(bus, groupId, consumer, seen);
    await waitFor(() => seen.reduce((sum, b) => sum + b.size, 0) >= 33, {
      what: 'every message of the run',
    });
    const dead = await waitFor(() => dlq.messages.find((m) => m.headers.ce_id === poison.id), {
      what: 'the poison message in the DLQ',
    });
    await subscription.close();

    // The batch as delivered: many messages at once, the poison among them.
    expect(seen[0].size).toBeGreaterThan(1);
    const outcomes = seen.flatMap((b) => b.outcomes);
    expect(outcomes.filter((o) => o === 'applied')).toHaveLength(30);
    expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'dead-lettered')).toHaveLength(2);
    const effects = await applied(run);
    expect(effects.size).toBe(30);
    expect([...effects.values()].every((times) => times === 1)).toBe(true);
    expect(effects.has(poison.id)).toBe(false);
    expect(dead.headers).toMatchObject({
      dlq_error: `cannot apply ${POISON}`,
      dlq_attempts: '3',
      dlq_consumer: groupId,
    });
    expect(dlq.messages.some((m) => m.value === 'not an event')).toBe(true);
    expect(await inboxed(groupId)).toBe(30);

    // Everything delivered again (a group rewound to the start): set-wise dedupe, no new effect.
    const admin = testKafka().admin();
    await admin.connect();
    await admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '0' }] });
    const again: Array<{ size: number; outcomes: Outcome[] }> = [];
    const calls = writer.calls.length;
    const resubscribed = await runBatches(bus, groupId, batchConsumer(groupId, writer), again);
    await waitFor(
      () => again.flatMap((b) => b.outcomes).filter((o) => o === 'duplicate').length >= 31,
      { what: 'the redelivered run' },
    );
    await resubscribed.close();
    await admin.disconnect();
    await dlq.stop();
    expect(writer.calls.length).toBe(calls);
    expect(again.flatMap((b) => b.outcomes).filter((o) => o === 'applied')).toHaveLength(0);
    const after = await applied(run);
    expect([...after.values()].every((times) => times === 1)).toBe(true);
    expect(after.size).toBe(30);
  });

  it('re-applies nothing after a transaction that failed mid-batch, nor after a crash before the offset commit', async () => {
    const run = uniqueName('crash');
    const batch = events(
      run,
      Array.from({ length: 40 }, (_, i) => i),
    );
    const groupId = uniqueName('crash-group');
    // The group starts after the first test's messages.
    const admin = testKafka().admin();
    await admin.connect();
    const [end] = await admin.fetchTopicOffsets(topic);
    await admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: end.high }] });
    await publish(batch.map((event) => ({ event })));

    // The batch transaction fails after its effects were written: rolled back, then the messages
    // are applied one by one. Then the process dies after the commit, before the offset commit.
    const writer = effectsWriter(1);
    const consumer = batchConsumer(groupId, writer);
    const firstBus = newBus();
    const seen: Array<{ size: number; outcomes: Outcome[] }> = [];
    let crashed = false;
    await runBatches(firstBus, groupId, consumer, seen, () => {
      crashed = true;
      throw new Error('process crashed before committing the offset');
    });
    await waitFor(() => crashed, { what: 'the first batch' });
    await firstBus.close();
    expect(writer.calls[0]).toBe(seen[0].size);
    expect(seen[0].outcomes.every((o) => o === 'applied')).toBe(true);
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    await admin.disconnect();
    expect(offsets.partitions[0].offset).toBe(end.high);

    // The restarted process gets the same messages; the inbox says they are done.
    const restarted: Array<{ size: number; outcomes: Outcome[] }> = [];
    const subscription = await runBatches(bus, groupId, consumer, restarted);
    await waitFor(() => restarted.reduce((sum, b) => sum + b.size, 0) >= batch.length, {
      what: 'the redelivery',
    });
    await subscription.close();
    const outcomes = restarted.flatMap((b) => b.outcomes);
    expect(outcomes.slice(0, seen[0].size).every((o) => o === 'duplicate')).toBe(true);
    const effects = await applied(run);
    expect(effects.size).toBe(40);
    expect([...effects.values()].every((times) => times === 1)).toBe(true);
  });
});

describe('batches of several partitions in one transaction (acrossPartitions) on real Kafka and PostgreSQL', () => {
  jest.setTimeout(90_000);
  const PARTITIONS = 3;
  const { topic, definition, registry } = testEventType(
    'test.joined',
    'org.carerelay.test.joined.v1',
  );
  let db: Awaited<ReturnType<typeof openTestDataSource>>;
  let bus: KafkajsMessageBus;

  beforeAll(async () => {
    db = await openTestDataSource('joined', {
      entities: [],
      migrations: [MessagingTables1732300000000, BatchEffects1732300000002],
    });
    await createTestTopics([topic, dlqTopicOf(topic)], PARTITIONS);
    bus = new KafkajsMessageBus({
      brokers: testEnv().KAFKA_BROKERS.split(','),
      clientId: 'joined-test',
    });
  });

  afterAll(async () => {
    await bus?.close();
    await deleteTestTopics([topic, dlqTopicOf(topic)]).catch(() => undefined);
    await db?.drop();
  });

  /** Events of one run, `perPartition` on each partition (thingId names it), POISON where asked. */
  const publishRun = async (run: string, perPartition: number, poisonOn?: number) => {
    const sent: Array<{ event: CloudEvent; partition: number }> = [];
    for (let partition = 0; partition < PARTITIONS; partition++) {
      for (let i = 0; i < perPartition; i++) {
        const n = partition === poisonOn && i === perPartition / 2 ? POISON : i;
        const event = newCloudEvent<Counted>({
          source: '/carerelay/test',
          type: definition.type,
          data: { thingId: `${run}-p${partition}`, n },
        });
        sent.push({ event, partition });
      }
    }
    const producer = testKafka().producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: sent.map(({ event, partition }) => ({
        ...toKafkaRecord(event, event.subject ?? 'k'),
        partition,
      })),
    });
    await producer.disconnect();
    return sent;
  };

  /** Applied effects of a run: event id → times; and the partitions each transaction wrote. */
  const effectsOf = async (run: string) => {
    const rows: Array<{ event_id: string; times: number }> = await db.dataSource.query(
      `SELECT event_id, count(*)::int AS times FROM "${db.schema}".effects WHERE run LIKE $1 GROUP BY event_id`,
      [`${run}-%`],
    );
    return new Map(rows.map((r) => [r.event_id, r.times]));
  };

  it('applies the batches that are ready together in one transaction, each message once, a poison alone to the DLQ', async () => {
    const groupId = uniqueName('joined-group');
    // Each transaction's writes in one call: the partitions it held. The first call waits, so
    // that the other partitions' batches are ready while its transaction is open.
    const transactions: Array<Set<string>> = [];
    const writer: BatchWriter<CloudEvent> = {
      async write(manager, items) {
        if (transactions.length === 0) await new Promise((resolve) => setTimeout(resolve, 500));
        transactions.push(new Set(items.map((e) => (e.data as Counted).thingId)));
        const data = items.map((e) => e.data as Counted);
        await manager.query(
          `INSERT INTO "${db.schema}".effects (event_id, run, n)
           SELECT * FROM unnest($1::text[], $2::text[], $3::int[])`,
          [items.map((e) => e.id), data.map((d) => d.thingId), data.map((d) => d.n)],
        );
      },
    };
    const consumer = new IdempotentConsumer(db.dataSource, bus, {
      schema: db.schema,
      groupId,
      topics: [topic],
      registry,
      retry: { maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 20 },
      partitionsConsumedConcurrently: PARTITIONS,
      batch: { maxMessages: 500, acrossPartitions: true, gatherMs: 100 },
      handlerFor: () => async (event, ctx) => {
        if ((event.data as Counted).n === POISON) throw new Error(`cannot apply ${POISON}`);
        ctx.defer!(writer, event);
      },
    });
    const dlq = await collectTopics([dlqTopicOf(topic)]);

    const clean = uniqueName('clean');
    const cleanSent = await publishRun(clean, 10);
    await consumer.start();
    await waitFor(async () => (await effectsOf(clean)).size === cleanSent.length, {
      what: 'every message of the clean run applied',
    });
    // Then a run whose partition 1 holds a poison: whatever transaction it shares fails, and
    // each batch is applied again alone (the poisoned one message by message).
    const poisoned = uniqueName('poisoned');
    const poisonedSent = await publishRun(poisoned, 10, 1);
    const poison = poisonedSent.find(({ event }) => (event.data as Counted).n === POISON)!.event;
    await waitFor(() => dlq.messages.find((m) => m.headers.ce_id === poison.id), {
      what: 'the poison message in the DLQ',
    });
    await waitFor(async () => (await effectsOf(poisoned)).size === poisonedSent.length - 1, {
      what: 'every other message of the poisoned run applied',
    });
    await consumer.stop();
    await dlq.stop();

    // Joined: some transaction held more than one partition's batch of the clean run.
    const partitionsOfClean = transactions.map(
      (things) => [...things].filter((thing) => thing.startsWith(clean)).length,
    );
    expect(Math.max(...partitionsOfClean)).toBeGreaterThan(1);
    for (const [run, sent] of [
      [clean, cleanSent.map((s) => s.event)],
      [poisoned, poisonedSent.map((s) => s.event).filter((e) => e.id !== poison.id)],
    ] as const) {
      const effects = await effectsOf(run);
      expect([...effects.keys()].sort()).toEqual(sent.map((e) => e.id).sort());
      expect([...effects.values()].every((times) => times === 1)).toBe(true);
    }
    expect(dlq.messages.filter((m) => m.headers.ce_id === poison.id)).toHaveLength(1);
    const [{ n: inboxed }] = await db.dataSource.query(
      `SELECT count(*)::int AS n FROM "${db.schema}".inbox WHERE consumer = $1`,
      [groupId],
    );
    expect(inboxed).toBe(cleanSent.length + poisonedSent.length - 1);
  });
});
