import { PendingCommits, type PartitionOffset } from './pending-commits';

describe('PendingCommits', () => {
  let sent: PartitionOffset[][];
  let failNext: number;
  let pending: PendingCommits;

  beforeEach(() => {
    jest.useFakeTimers();
    sent = [];
    failNext = 0;
    pending = new PendingCommits(async (offsets) => {
      if (failNext > 0) {
        failNext -= 1;
        throw new Error('NOT_COORDINATOR');
      }
      sent.push(offsets);
    }, 1_000);
  });
  afterEach(() => jest.useRealTimers());

  /** Runs the timers due within `ms` and lets the commits they start settle. */
  const after = async (ms: number) => {
    await jest.advanceTimersByTimeAsync(ms);
  };

  it('sends the latest offset of every partition in one request when the first is due', async () => {
    pending.put('t', 0, '5', 1_000);
    pending.put('t', 1, '9', 1_000);
    pending.put('t', 0, '6', 1_000);
    pending.put('u', 2, '3', 5_000);
    await after(999);
    expect(sent).toEqual([]);
    await after(1);
    expect(sent).toEqual([
      [
        { topic: 't', partition: 0, offset: '6' },
        { topic: 't', partition: 1, offset: '9' },
        { topic: 'u', partition: 2, offset: '3' },
      ],
    ]);
    await after(10_000);
    expect(sent).toHaveLength(1);
  });

  it('lets an offset that may wait go with a sooner one, and alone once its own delay is up', async () => {
    pending.put('t', 0, '2', 5_000);
    await after(3_000);
    pending.put('t', 1, '4', 1_000);
    await after(1_000);
    expect(sent).toEqual([
      [
        { topic: 't', partition: 0, offset: '2' },
        { topic: 't', partition: 1, offset: '4' },
      ],
    ]);

    pending.put('t', 0, '3', 5_000);
    await after(4_999);
    expect(sent).toHaveLength(1);
    await after(1);
    expect(sent[1]).toEqual([{ topic: 't', partition: 0, offset: '3' }]);
  });

  it('tries a failed commit again, unless the partition moved on meanwhile', async () => {
    failNext = 1;
    pending.put('t', 0, '7', 1_000);
    pending.put('t', 1, '2', 1_000);
    await after(1_000);
    expect(sent).toEqual([]);
    pending.put('t', 1, '3', 5_000);
    await after(1_000);
    expect(sent).toEqual([
      [
        { topic: 't', partition: 0, offset: '7' },
        { topic: 't', partition: 1, offset: '3' },
      ],
    ]);
  });

  it('drops what it held when the partitions are reassigned, also a commit failing meanwhile', async () => {
    pending.put('t', 0, '7', 1_000);
    pending.forget();
    await after(5_000);
    expect(sent).toEqual([]);

    const calls: PartitionOffset[][] = [];
    let fail: (error: Error) => void = () => undefined;
    const slow = new PendingCommits((offsets) => {
      calls.push(offsets);
      return calls.length === 1
        ? new Promise<void>((_, reject) => (fail = reject))
        : Promise.resolve();
    }, 1_000);
    slow.put('t', 0, '8', 1_000);
    await after(1_000);
    expect(calls).toHaveLength(1);
    slow.forget();
    fail(new Error('ILLEGAL_GENERATION'));
    await after(10_000);
    expect(calls).toHaveLength(1);
  });

  it('sends what it holds at once when flushed, and nothing when it holds nothing', async () => {
    await pending.flush();
    expect(sent).toEqual([]);
    pending.put('t', 0, '1', 5_000);
    await pending.flush();
    expect(sent).toEqual([[{ topic: 't', partition: 0, offset: '1' }]]);
    await after(10_000);
    expect(sent).toHaveLength(1);
  });

  it('commits nothing more once stopped, also what it held and a commit failing meanwhile', async () => {
    failNext = 1;
    pending.put('t', 0, '4', 1_000);
    await after(1_000);
    pending.put('t', 1, '6', 1_000);
    pending.stop();
    pending.put('t', 2, '1', 1_000);
    await after(10_000);
    await pending.flush();
    expect(sent).toEqual([]);
  });

  it('sends what it holds when closed, and nothing after', async () => {
    pending.put('t', 0, '2', 5_000);
    await pending.close();
    pending.put('t', 0, '3', 1_000);
    await after(10_000);
    expect(sent).toEqual([[{ topic: 't', partition: 0, offset: '2' }]]);
  });
});
