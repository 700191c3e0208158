import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { startTcpProxy, testEnv, uniqueName, type TcpProxy } from '@carerelay/testing';
import { dropSchema, openServiceDataSource } from './data-source.factory';
import { isDatabaseUnavailable } from './infrastructure-error';

// A network that goes silent (no reset, nothing arrives) is the fault TCP itself notices last:
// without timeouts of its own a service's queries, and the consumer or poller awaiting them,
// hang for many minutes. These show that a service data source notices in seconds, that the
// server lets go of a cut-off client's row locks, and that the pool recovers once healed.
describe('a service data source when the network to PostgreSQL goes silent', () => {
  const { DATABASE_URL } = testEnv();
  const schema = uniqueName('db_timeouts').toLowerCase();
  let proxy: TcpProxy;
  let dataSource: DataSource;
  let direct: Client;

  beforeAll(async () => {
    const url = new URL(DATABASE_URL);
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    dataSource = await openServiceDataSource({
      url: url.toString(),
      schema,
      entities: [],
      migrations: [],
      poolSize: 3,
      timeouts: { connectMs: 1_000, queryMs: 1_500, idleInTransactionMs: 1_500 },
    });
    direct = new Client({ connectionString: DATABASE_URL });
    await direct.connect();
    await direct.query(`CREATE TABLE "${schema}".counter (id int PRIMARY KEY, n int NOT NULL)`);
    await direct.query(`INSERT INTO "${schema}".counter VALUES (1, 0)`);
  }, 30_000);

  afterAll(async () => {
    proxy?.heal();
    await dataSource?.destroy().catch(() => undefined);
    await direct?.end().catch(() => undefined);
    await proxy?.close();
    await dropSchema(DATABASE_URL, schema);
  });

  afterEach(() => proxy.heal());

  const failureOf = async (work: Promise<unknown>) => {
    const started = Date.now();
    const error = await work.then(
      () => undefined,
      (e: unknown) => e,
    );
    return { error, ms: Date.now() - started };
  };

  const untilAnswered = async () => {
    for (let i = 0; i < 50; i++) {
      const answered = await dataSource.query('SELECT 1 AS one').then(
        () => true,
        () => false,
      );
      if (answered) return true;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return false;
  };

  it('fails statements and new connections within seconds, as "database unavailable", and recovers once healed', async () => {
    await expect(dataSource.query('SELECT 1 AS one')).resolves.toEqual([{ one: 1 }]);
    proxy.blackhole();

    // Four at once on a pool of three: the idle connections meet the query timeout, the fourth
    // waits for a connection and then meets one of the timeouts as well.
    const failures = await Promise.all(
      [1, 2, 3, 4].map(() => failureOf(dataSource.query('SELECT 1 AS one'))),
    );
    for (const { error, ms } of failures) {
      expect(error).toBeInstanceOf(Error);
      expect(isDatabaseUnavailable(error)).toBe(true);
      expect(ms).toBeLessThan(6_000);
    }

    proxy.heal();
    expect(await untilAnswered()).toBe(true);
  }, 30_000);

  it('lets go of the row locks of a transaction whose client was cut off mid-way', async () => {
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    await runner.query(`SELECT n FROM "${schema}".counter WHERE id = 1 FOR UPDATE`);
    proxy.blackhole();

    // Another instance updates the same row: it waits for the lock only until the server ends
    // the silent session (lock_timeout makes a regression fail here instead of hanging).
    await direct.query(`SET lock_timeout = '10s'`);
    const started = Date.now();
    await direct.query(`UPDATE "${schema}".counter SET n = n + 1 WHERE id = 1`);
    expect(Date.now() - started).toBeLessThan(6_000);

    proxy.heal();
    await runner.release().catch(() => undefined);
    expect(await untilAnswered()).toBe(true);
    const [{ n }] = (await direct.query(`SELECT n FROM "${schema}".counter WHERE id = 1`)).rows;
    expect(n).toBe(1);
  }, 30_000);
});
