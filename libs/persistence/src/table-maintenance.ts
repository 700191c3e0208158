/**
 * When a table needs VACUUM or ANALYZE, by the formulas PostgreSQL's autovacuum uses, for a server
 * where autovacuum is off. Without it nothing ever analyzes a table: the planner keeps the
 * statistics of an empty table and picks a wrong index (a conditional create's identifier lookup
 * then scans every identifier of the type), and the dead rows of the outbox's updates pile up in
 * front of every relay poll.
 */

/** The server's autovacuum settings (pg_settings), used as autovacuum would use them. */
export interface VacuumSettings {
  vacuumThreshold: number;
  vacuumScaleFactor: number;
  insertThreshold: number;
  insertScaleFactor: number;
  analyzeThreshold: number;
  analyzeScaleFactor: number;
}

/** One table's counters (pg_stat_user_tables, pg_class.reltuples). */
export interface TableActivity {
  table: string;
  /** Rows at the last VACUUM or ANALYZE; -1 (never) counts as 0. */
  reltuples: number;
  deadRows: number;
  insertedSinceVacuum: number;
  modifiedSinceAnalyze: number;
}

export interface TableWork {
  table: string;
  vacuum: boolean;
  analyze: boolean;
}

export const POSTGRES_DEFAULT_VACUUM_SETTINGS: VacuumSettings = {
  vacuumThreshold: 50,
  vacuumScaleFactor: 0.2,
  insertThreshold: 1000,
  insertScaleFactor: 0.2,
  analyzeThreshold: 50,
  analyzeScaleFactor: 0.1,
};

/** The tables that need work, most changed first. */
export function tablesDue(settings: VacuumSettings, tables: readonly TableActivity[]): TableWork[] {
  return tables
    .map((t) => {
      const rows = Math.max(0, t.reltuples);
      const vacuum =
        t.deadRows > settings.vacuumThreshold + settings.vacuumScaleFactor * rows ||
        t.insertedSinceVacuum > settings.insertThreshold + settings.insertScaleFactor * rows;
      const analyze =
        t.modifiedSinceAnalyze > settings.analyzeThreshold + settings.analyzeScaleFactor * rows;
      return {
        work: { table: t.table, vacuum, analyze },
        changed: t.modifiedSinceAnalyze + t.deadRows,
      };
    })
    .filter(({ work }) => work.vacuum || work.analyze)
    .sort((a, b) => b.changed - a.changed)
    .map(({ work }) => work);
}
