import type { DataSource } from 'typeorm';
import {
  POSTGRES_DEFAULT_VACUUM_SETTINGS,
  type TableActivity,
  type TableWork,
  type VacuumSettings,
} from './table-maintenance';

const SETTING_NAMES: Record<keyof VacuumSettings, string> = {
  vacuumThreshold: 'autovacuum_vacuum_threshold',
  vacuumScaleFactor: 'autovacuum_vacuum_scale_factor',
  insertThreshold: 'autovacuum_vacuum_insert_threshold',
  insertScaleFactor: 'autovacuum_vacuum_insert_scale_factor',
  analyzeThreshold: 'autovacuum_analyze_threshold',
  analyzeScaleFactor: 'autovacuum_analyze_scale_factor',
};

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** The SQL of table maintenance for one schema. */
export class TableMaintenanceRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly schema: string,
  ) {}

  /**
   * The server's autovacuum switch and thresholds, in one read: undefined while autovacuum is
   * on (the server does the work), else the thresholds it would use.
   */
  async settingsWhereAutovacuumIsOff(): Promise<VacuumSettings | undefined> {
    const rows: { name: string; setting: string }[] = await this.dataSource.query(
      `SELECT name, setting FROM pg_settings WHERE name = ANY($1)`,
      [['autovacuum', ...Object.values(SETTING_NAMES)]],
    );
    const byName = new Map(rows.map((r) => [r.name, r.setting]));
    if (byName.get('autovacuum') !== 'off') return undefined;
    const settings = { ...POSTGRES_DEFAULT_VACUUM_SETTINGS };
    for (const [key, name] of Object.entries(SETTING_NAMES) as [keyof VacuumSettings, string][]) {
      const value = Number(byName.get(name));
      if (byName.has(name) && Number.isFinite(value) && value >= 0) settings[key] = value;
    }
    return settings;
  }

  async activity(): Promise<TableActivity[]> {
    const rows: {
      table: string;
      reltuples: string;
      dead: string;
      inserted: string;
      modified: string;
    }[] = await this.dataSource.query(
      `SELECT s.relname AS table, c.reltuples, s.n_dead_tup AS dead,
              s.n_ins_since_vacuum AS inserted, s.n_mod_since_analyze AS modified
         FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
        WHERE s.schemaname = $1`,
      [this.schema],
    );
    return rows.map((r) => ({
      table: r.table,
      reltuples: Number(r.reltuples),
      deadRows: Number(r.dead),
      insertedSinceVacuum: Number(r.inserted),
      modifiedSinceAnalyze: Number(r.modified),
    }));
  }

  /**
   * Runs `work` on one connection while holding this schema's maintenance lock; false (nothing
   * done) when another instance of the service holds it.
   */
  async exclusively(
    work: (run: (item: TableWork) => Promise<void>) => Promise<void>,
  ): Promise<boolean> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    const key = `carerelay.table-maintenance.${this.schema}`;
    try {
      const [{ locked }]: { locked: boolean }[] = await runner.query(
        'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked',
        [key],
      );
      if (!locked) return false;
      try {
        await work(async ({ table, vacuum, analyze }) => {
          const target = `${quote(this.schema)}.${quote(table)}`;
          // VACUUM runs outside any transaction: this connection holds none.
          await runner.query(
            vacuum ? `VACUUM ${analyze ? '(ANALYZE) ' : ''}${target}` : `ANALYZE ${target}`,
          );
        });
      } finally {
        await runner.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [key]);
      }
      return true;
    } finally {
      await runner.release();
    }
  }
}
