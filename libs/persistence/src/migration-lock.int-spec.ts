import type { MigrationInterface, QueryRunner } from 'typeorm';
import { Client } from 'pg';
import { testEnv, uniqueName } from '@carerelay/testing';
import { dropSchema, openServiceDataSource } from './data-source.factory';

// Instances of one service started together (a scale-out, a rolling deploy) open the same schema
// at once: each must start, and each migration must run exactly once.
describe('instances of a service opening their schema at the same moment', () => {
  const { DATABASE_URL } = testEnv();
  const schema = uniqueName('migration_lock').toLowerCase();

  afterAll(() => dropSchema(DATABASE_URL, schema));

  it('all start, and each migration runs once', async () => {
    class CreateThings1700000000000 implements MigrationInterface {
      name = 'CreateThings1700000000000';
      async up(runner: QueryRunner): Promise<void> {
        // Long enough that the instances' migrations would overlap without the lock.
        await runner.query('SELECT pg_sleep(0.3)');
        await runner.query(`CREATE TABLE "${schema}".thing (id int PRIMARY KEY)`);
        await runner.query(`INSERT INTO "${schema}".thing VALUES (1)`);
      }
      async down(): Promise<void> {}
    }
    const open = () =>
      openServiceDataSource({
        url: DATABASE_URL,
        schema,
        entities: [],
        migrations: [CreateThings1700000000000],
        poolSize: 1,
      });
    const opened = await Promise.allSettled([open(), open(), open()]);
    const failures = opened
      .filter((o): o is PromiseRejectedResult => o.status === 'rejected')
      .map((o) => String(o.reason));
    await Promise.all(
      opened.map((o) => (o.status === 'fulfilled' ? o.value.destroy() : undefined)),
    );
    expect(failures).toEqual([]);

    const client = new Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      const ran = await client.query(`SELECT name FROM "${schema}".migrations ORDER BY id`);
      expect(ran.rows.map((r: { name: string }) => r.name)).toEqual(['CreateThings1700000000000']);
      expect((await client.query(`SELECT id FROM "${schema}".thing`)).rows).toEqual([{ id: 1 }]);
    } finally {
      await client.end();
    }
  }, 60_000);
});
