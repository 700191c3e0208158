import { Client } from 'pg';
import type { DataSource, QueryRunner } from 'typeorm';
import { testEnv, uniqueName } from '@carerelay/testing';
import { dropSchema, openServiceDataSource } from './data-source.factory';

describe('a service data source runs its repeated statements prepared', () => {
  const { DATABASE_URL } = testEnv();
  const schema = uniqueName('prepared').toLowerCase();
  const select = `SELECT * FROM "${schema}".item WHERE id = $1`;
  let dataSource: DataSource;
  let runner: QueryRunner; // one connection, whose prepared statements the server lists
  let direct: Client;

  beforeAll(async () => {
    dataSource = await openServiceDataSource({
      url: DATABASE_URL,
      schema,
      entities: [],
      migrations: [],
      poolSize: 2,
    });
    direct = new Client({ connectionString: DATABASE_URL });
    await direct.connect();
    await direct.query(`CREATE TABLE "${schema}".item (id int PRIMARY KEY, label text NOT NULL)`);
    await direct.query(`INSERT INTO "${schema}".item VALUES (1, 'one'), (2, 'two')`);
    runner = dataSource.createQueryRunner();
    await runner.connect();
  }, 30_000);

  afterAll(async () => {
    await runner?.release().catch(() => undefined);
    await dataSource?.destroy().catch(() => undefined);
    await direct?.end().catch(() => undefined);
    await dropSchema(DATABASE_URL, schema);
  });

  const prepared = async () =>
    (
      (await runner.query('SELECT statement FROM pg_prepared_statements')) as {
        statement: string;
      }[]
    ).map((r) => r.statement);

  it('prepares a parameterised text the second time it runs, with the same answers', async () => {
    expect(await runner.query(select, [1])).toEqual([{ id: 1, label: 'one' }]);
    expect(await prepared()).not.toContain(select);
    expect(await runner.query(select, [2])).toEqual([{ id: 2, label: 'two' }]);
    expect(await prepared()).toContain(select);
    expect(await runner.query(select, [1])).toEqual([{ id: 1, label: 'one' }]);
    expect(await runner.query(select, [3])).toEqual([]);
    // A statement without parameters may be several statements: it goes by the simple protocol.
    await runner.query(`SELECT count(*) FROM "${schema}".item`);
    await runner.query(`SELECT count(*) FROM "${schema}".item`);
    expect(await prepared()).toEqual([select]);
  });

  it('runs a statement unnamed once the server refused its stale plan (another instance migrated)', async () => {
    expect(await prepared()).toContain(select);
    await direct.query(`ALTER TABLE "${schema}".item ADD COLUMN note text`);
    const refused = await runner.query(select, [1]).then(
      () => undefined,
      (error: unknown) => error as { code?: string },
    );
    expect(refused?.code).toBe('0A000');
    expect(await runner.query(select, [1])).toEqual([{ id: 1, label: 'one', note: null }]);
    expect(await runner.query(select, [2])).toEqual([{ id: 2, label: 'two', note: null }]);
  });
});
