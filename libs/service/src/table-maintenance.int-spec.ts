import { Client } from 'pg';
import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import {
  TableMaintenanceRepository,
  dropSchema,
  openServiceDataSource,
} from '@carerelay/persistence';
import { testEnv, uniqueName, waitFor } from '@carerelay/testing';
import { TableMaintenance } from './table-maintenance.module';

// Against the real server: autovacuum is off on the CI machines, and with it nothing analyzed
// a table, so the planner kept guessing from an empty one.
describe('table maintenance of a service schema', () => {
  const { DATABASE_URL } = testEnv();
  const schema = uniqueName('maintenance').toLowerCase();
  let dataSource: DataSource;
  let sql: Client;

  const stats = async (table: string) =>
    (
      await sql.query(
        `SELECT n_mod_since_analyze::int AS modified, n_dead_tup::int AS dead,
                last_analyze IS NOT NULL AS analyzed, last_vacuum IS NOT NULL AS vacuumed
           FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = $2`,
        [schema, table],
      )
    ).rows[0] as { modified: number; dead: number; analyzed: boolean; vacuumed: boolean };

  beforeAll(async () => {
    class CreateTables1700000000000 implements MigrationInterface {
      name = 'CreateTables1700000000000';
      async up(runner: QueryRunner): Promise<void> {
        await runner.query(`CREATE TABLE "${schema}".busy (id int PRIMARY KEY, sent boolean)`);
        await runner.query(`CREATE TABLE "${schema}".quiet (id int PRIMARY KEY)`);
      }
      async down(): Promise<void> {}
    }
    dataSource = await openServiceDataSource({
      url: DATABASE_URL,
      schema,
      entities: [],
      migrations: [CreateTables1700000000000],
      poolSize: 2,
    });
    sql = new Client({ connectionString: DATABASE_URL });
    await sql.connect();
    await sql.query(`INSERT INTO "${schema}".busy SELECT g, false FROM generate_series(1, 2000) g`);
    await sql.query(`UPDATE "${schema}".busy SET sent = true`); // 2,000 dead rows, as an outbox
    await sql.query(`INSERT INTO "${schema}".quiet VALUES (1)`);
    // The counters reach pg_stat_user_tables when the writing session reports them.
    await waitFor(async () => (await stats('busy'))?.dead >= 2000, { timeoutMs: 15_000 });
  });

  afterAll(async () => {
    await sql?.end();
    await dataSource?.destroy();
    await dropSchema(DATABASE_URL, schema);
  });

  it('reads each table of the schema, and only of the schema', async () => {
    const activity = await new TableMaintenanceRepository(dataSource, schema).activity();
    expect(activity.map((a) => a.table).sort()).toEqual(['busy', 'migrations', 'quiet']);
    expect(activity.find((a) => a.table === 'busy')).toMatchObject({
      deadRows: 2000,
      modifiedSinceAnalyze: 4000,
    });
  });

  it('skips the pass while another instance holds the schema', async () => {
    const other = new Client({ connectionString: DATABASE_URL });
    await other.connect();
    try {
      await other.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [
        `carerelay.table-maintenance.${schema}`,
      ]);
      const ran = await new TableMaintenanceRepository(dataSource, schema).exclusively(async () => {
        throw new Error('must not run');
      });
      expect(ran).toBe(false);
    } finally {
      await other.end();
    }
  });

  it('vacuums and analyzes the busy table, as autovacuum would, when autovacuum is off', async () => {
    const maintenance = new TableMaintenance(dataSource, { schema, intervalMs: 60_000 });
    const autovacuum = (await sql.query(`SHOW autovacuum`)).rows[0].autovacuum as string;
    const done = await maintenance.pass();
    if (autovacuum === 'on') {
      // The server does it: the pass only looked.
      expect(done).toEqual([]);
      return;
    }
    expect(done).toEqual([{ table: 'busy', vacuum: true, analyze: true }]);
    await waitFor(async () => (await stats('busy')).vacuumed, { timeoutMs: 15_000 });
    expect(await stats('busy')).toMatchObject({ dead: 0, modified: 0, analyzed: true });
    expect(await stats('quiet')).toMatchObject({ analyzed: false, vacuumed: false });
    // Nothing changed since: the next pass has nothing to do.
    expect(await maintenance.pass()).toEqual([]);
  });
});
