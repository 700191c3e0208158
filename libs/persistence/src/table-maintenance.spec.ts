import {
  POSTGRES_DEFAULT_VACUUM_SETTINGS as defaults,
  tablesDue,
  type TableActivity,
} from './table-maintenance';

const table = (over: Partial<TableActivity> & { table: string }): TableActivity => ({
  reltuples: 0,
  deadRows: 0,
  insertedSinceVacuum: 0,
  modifiedSinceAnalyze: 0,
  ...over,
});

describe('tablesDue (autovacuum formulas)', () => {
  it('leaves a table alone below every threshold', () => {
    expect(
      tablesDue(defaults, [
        table({ table: 'quiet', reltuples: 1000, deadRows: 250, modifiedSinceAnalyze: 150 }),
      ]),
    ).toEqual([]);
  });

  it('analyzes a never-analyzed table (reltuples -1) once 50 rows changed', () => {
    expect(
      tablesDue(defaults, [
        table({ table: 'fresh', reltuples: -1, modifiedSinceAnalyze: 51, insertedSinceVacuum: 51 }),
      ]),
    ).toEqual([{ table: 'fresh', vacuum: false, analyze: true }]);
  });

  it('vacuums past 50 + 20% dead rows, and after many inserts; analyzes past 50 + 10% changed', () => {
    const due = tablesDue(defaults, [
      table({ table: 'outbox', reltuples: 1000, deadRows: 251, modifiedSinceAnalyze: 100 }),
      table({ table: 'history', reltuples: 10_000, insertedSinceVacuum: 3001 }),
      table({ table: 'index', reltuples: 10_000, modifiedSinceAnalyze: 1051 }),
    ]);
    expect(due).toEqual([
      { table: 'index', vacuum: false, analyze: true },
      { table: 'outbox', vacuum: true, analyze: false },
      { table: 'history', vacuum: true, analyze: false },
    ]);
  });

  it("uses the server's own settings", () => {
    const eager = { ...defaults, analyzeThreshold: 0, analyzeScaleFactor: 0 };
    expect(
      tablesDue(eager, [table({ table: 't', reltuples: 1e6, modifiedSinceAnalyze: 1 })]),
    ).toEqual([{ table: 't', vacuum: false, analyze: true }]);
  });
});
