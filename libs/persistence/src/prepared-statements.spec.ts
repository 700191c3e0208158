import { PLANNED_PER_EXECUTION, StatementNames } from './prepared-statements';

describe('StatementNames', () => {
  const text = 'SELECT * FROM t WHERE id = $1';

  it('names a text once it comes back, the same name every time after', () => {
    const names = new StatementNames({ after: 2, maxPrepared: 10, maxTracked: 10 });
    expect(names.nameFor(text)).toBeUndefined();
    const name = names.nameFor(text);
    expect(name).toMatch(/^cr_[\w-]+$/);
    expect(name!.length).toBeLessThanOrEqual(63);
    expect(names.nameFor(text)).toBe(name);
    expect(names.prepared).toBe(1);
  });

  it('gives different texts different names, and the same text the same name in another process', () => {
    const a = new StatementNames({ after: 1, maxPrepared: 10, maxTracked: 10 });
    const b = new StatementNames({ after: 1, maxPrepared: 10, maxTracked: 10 });
    const other = 'SELECT * FROM t WHERE id = $1 FOR UPDATE';
    expect(a.nameFor(text)).not.toBe(a.nameFor(other));
    expect(b.nameFor(text)).toBe(a.nameFor(text));
  });

  it('prepares no more than maxPrepared texts; the ones it holds keep their names', () => {
    const names = new StatementNames({ after: 1, maxPrepared: 2, maxTracked: 10 });
    const first = names.nameFor('SELECT $1::int');
    expect(names.nameFor('SELECT $1::text')).toBeDefined();
    expect(names.nameFor('SELECT $1::date')).toBeUndefined();
    expect(names.nameFor('SELECT $1::int')).toBe(first);
    expect(names.prepared).toBe(2);
  });

  it('forgets the one-off texts it counted when full, so a text first seen late is named', () => {
    const names = new StatementNames({ after: 2, maxPrepared: 10, maxTracked: 2 });
    names.nameFor('SELECT $1::int');
    names.nameFor('SELECT $1::text');
    names.nameFor('SELECT $1::date'); // full: the two counted before are forgotten
    expect(names.nameFor('SELECT $1::int')).toBeUndefined();
    expect(names.nameFor('SELECT $1::date')).toBeDefined();
  });

  it('never names a statement planned per execution', () => {
    const names = new StatementNames({ after: 1, maxPrepared: 10, maxTracked: 10 });
    const search = `${PLANNED_PER_EXECUTION}SELECT id FROM t WHERE code = $1`;
    expect(names.nameFor(search)).toBeUndefined();
    expect(names.nameFor(search)).toBeUndefined();
    expect(names.prepared).toBe(0);
  });

  it('runs a refused text unnamed from then on', () => {
    const names = new StatementNames({ after: 1, maxPrepared: 10, maxTracked: 10 });
    expect(names.nameFor(text)).toBeDefined();
    names.refuse(text);
    expect(names.nameFor(text)).toBeUndefined();
    expect(names.nameFor(text)).toBeUndefined();
    expect(names.prepared).toBe(0);
  });
});
