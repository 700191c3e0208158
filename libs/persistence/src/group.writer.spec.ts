import { GroupWriter } from './group.writer';

/** A writer whose statements finish when the test says so. */
function controlledWriter(gatherTick = false) {
  const statements: { rows: number[]; finish: (error?: Error) => void }[] = [];
  const writer = new GroupWriter<number>(
    (rows) =>
      new Promise<void>((resolve, reject) =>
        statements.push({ rows, finish: (error) => (error ? reject(error) : resolve()) }),
      ),
    3,
    gatherTick,
  );
  return { writer, statements };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('GroupWriter', () => {
  it('writes a lone row at once, in a statement of its own', async () => {
    const { writer, statements } = controlledWriter();
    const done = writer.write(1);
    await tick();
    expect(statements.map((s) => s.rows)).toEqual([[1]]);
    statements[0].finish();
    await expect(done).resolves.toBeUndefined();
  });

  it('with gatherTick, sends the rows handed in during one turn of the event loop together', async () => {
    const { writer, statements } = controlledWriter(true);
    const first = writer.write(1);
    // Later in the same turn, as the other partitions' batches of one fetch arrive.
    const second = Promise.resolve().then(() => writer.write(2));
    expect(statements).toEqual([]);
    await tick();
    expect(statements.map((s) => s.rows)).toEqual([[1, 2]]);
    statements[0].finish();
    await expect(Promise.all([first, second])).resolves.toEqual([undefined, undefined]);
    // Nothing in flight again: the next turn's row waits for that turn alone.
    const third = writer.write(3);
    await tick();
    expect(statements.map((s) => s.rows)).toEqual([[1, 2], [3]]);
    statements[1].finish();
    await third;
  });

  it('groups the rows that arrive while a statement is in flight, at most maxRows each', async () => {
    const { writer, statements } = controlledWriter();
    const first = writer.write(1);
    const rest = [2, 3, 4, 5].map((n) => writer.write(n));
    await tick();
    expect(statements.map((s) => s.rows)).toEqual([[1]]);
    statements[0].finish();
    await first;
    await tick();
    expect(statements.map((s) => s.rows)).toEqual([[1], [2, 3, 4]]);
    statements[1].finish();
    await tick();
    expect(statements.map((s) => s.rows)).toEqual([[1], [2, 3, 4], [5]]);
    statements[2].finish();
    await Promise.all(rest);
  });

  it("fails exactly the callers whose statement failed, and keeps writing the others' rows", async () => {
    const { writer, statements } = controlledWriter();
    const first = writer.write(1);
    const second = writer.write(2);
    await tick();
    statements[0].finish(new Error('connection lost'));
    await expect(first).rejects.toThrow('connection lost');
    await tick();
    expect(statements.map((s) => s.rows)).toEqual([[1], [2]]);
    statements[1].finish();
    await expect(second).resolves.toBeUndefined();
  });

  it("keeps a caller's rows together in one statement, grouped with others' up to maxRows", async () => {
    const { writer, statements } = controlledWriter();
    const first = writer.writeMany([1]);
    const pair = writer.writeMany([2, 3]);
    const large = writer.writeMany([4, 5, 6, 7]);
    const last = writer.writeMany([8]);
    await tick();
    statements[0].finish();
    await first;
    await tick();
    // [2, 3] and [4..7] would exceed 3 rows: the larger goes alone, whole.
    expect(statements.map((s) => s.rows)).toEqual([[1], [2, 3]]);
    statements[1].finish();
    await pair;
    await tick();
    expect(statements.map((s) => s.rows)).toEqual([[1], [2, 3], [4, 5, 6, 7]]);
    statements[2].finish();
    await large;
    await tick();
    statements[3].finish();
    await last;
    expect(statements.map((s) => s.rows)).toEqual([[1], [2, 3], [4, 5, 6, 7], [8]]);
  });
});
