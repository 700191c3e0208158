import { deliverInOrder, type QueuedDelivery } from './ordered-delivery';

// When a key's deliveries stop at one to be tried later, the worker is told how long that is.
const retry = { maxAttempts: 3, initialBackoffMs: 1_000, maxBackoffMs: 60_000 };
const now = Date.parse('2026-12-05T10:00:00Z');
const item = (id: string, attempts = 0, dueInMs = 0) => ({
  id,
  attempts,
  nextAttemptAt: new Date(now + dueInMs).toISOString(),
});

describe('deliverInOrder waits', () => {
  it('stops at an item not yet due and tells in how many ms it is due', async () => {
    const waits: number[] = [];
    const sent: string[] = [];
    const delivered = await deliverInOrder<QueuedDelivery & { id: string }>(
      [item('a'), item('b', 1, 4_000), item('c')],
      {
        retry,
        deliver: async (i) => void sent.push(i.id),
        failed: async () => undefined,
        waits: (ms) => waits.push(ms),
      },
      () => now,
    );
    expect(delivered.map((i) => i.id)).toEqual(['a']);
    expect(sent).toEqual(['a']);
    expect(waits).toEqual([4_000]);
  });

  it("tells a retried failure's backoff, and nothing for a parked one (the next go on)", async () => {
    const waits: number[] = [];
    const delays: number[] = [];
    const sent: string[] = [];
    await deliverInOrder<QueuedDelivery & { id: string }>(
      [item('parked', 2), item('next'), item('failing'), item('held')],
      {
        retry,
        deliver: async (i) => {
          if (i.id !== 'next') throw new Error('refused');
          sent.push(i.id);
        },
        failed: async (_i, _e, { delayMs }) => void delays.push(delayMs),
        waits: (ms) => waits.push(ms),
      },
      () => now,
    );
    expect(sent).toEqual(['next']);
    expect(delays).toHaveLength(2);
    expect(delays[0]).toBe(0); // parked at its third attempt
    expect(waits).toEqual([delays[1]]);
  });
});
