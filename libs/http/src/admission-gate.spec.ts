import { AdmissionGate, type AdmissionLane } from './admission-gate';

describe('AdmissionGate', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('admits up to maxInFlight at once, queues up to maxQueued, refuses the rest at once', async () => {
    const gate = new AdmissionGate({ maxInFlight: 2, maxQueued: 1, lanes: [{ maxWaitMs: 1000 }] });
    expect(await gate.enter()).toBe(true);
    expect(await gate.enter()).toBe(true);
    const queued = gate.enter();
    expect(gate.waiting).toBe(1);
    expect(await gate.enter()).toBe(false); // queue full
    expect(gate.refused).toBe(1);

    gate.leave(); // a slot frees: the queued request goes in
    expect(await queued).toBe(true);
    expect(gate.active).toBe(2);
    expect(gate.waiting).toBe(0);
  });

  it('serves the queue first come, first served', async () => {
    const gate = new AdmissionGate({ maxInFlight: 1, maxQueued: 5, lanes: [{ maxWaitMs: 1000 }] });
    await gate.enter();
    const order: number[] = [];
    const waits = [1, 2, 3].map((n) => gate.enter().then(() => order.push(n)));
    for (let i = 0; i < 3; i++) {
      gate.leave();
      await Promise.resolve();
    }
    await Promise.all(waits);
    expect(order).toEqual([1, 2, 3]);
  });

  it('refuses a request that waited maxWaitMs, and does not admit it later', async () => {
    const gate = new AdmissionGate({ maxInFlight: 1, maxQueued: 5, lanes: [{ maxWaitMs: 500 }] });
    await gate.enter();
    const waiting = gate.enter();
    jest.advanceTimersByTime(500);
    expect(await waiting).toBe(false);
    expect(gate.waiting).toBe(0);
    gate.leave();
    expect(gate.active).toBe(0);
  });

  it('a newcomer does not overtake those already waiting', async () => {
    const gate = new AdmissionGate({ maxInFlight: 1, maxQueued: 5, lanes: [{ maxWaitMs: 1000 }] });
    await gate.enter();
    const first = gate.enter();
    gate.leave(); // the slot goes to the waiting request ...
    const second = gate.enter(); // ... not to one arriving now
    expect(await first).toBe(true);
    expect(gate.waiting).toBe(1);
    gate.leave();
    expect(await second).toBe(true);
  });

  it('rejects limits that cannot work', () => {
    expect(
      () => new AdmissionGate({ maxInFlight: 0, maxQueued: 0, lanes: [{ maxWaitMs: 0 }] }),
    ).toThrow();
  });
});

describe('AdmissionGate lanes', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  const FIRST = 0;
  const two = (maxInFlight: number, maxQueued: number, first: AdmissionLane, last: AdmissionLane) =>
    new AdmissionGate({ maxInFlight, maxQueued, lanes: [first, last] });

  it('leaves the reserved slots to the first lane', async () => {
    const gate = two(3, 0, { maxWaitMs: 1000, reserved: 1 }, { maxWaitMs: 1000 });
    expect(await gate.enter()).toBe(true);
    expect(await gate.enter()).toBe(true);
    expect(await gate.enter()).toBe(false); // the last slot is reserved
    expect(await gate.enter(FIRST)).toBe(true);
    expect(await gate.enter(FIRST)).toBe(false); // full, and no queue
    expect(gate.active).toBe(3);
  });

  it('admits a waiting request of an earlier lane before requests that waited longer', async () => {
    const gate = two(1, 5, { maxWaitMs: 1000 }, { maxWaitMs: 1000 });
    await gate.enter();
    const order: string[] = [];
    const later = gate.enter().then(() => order.push('last lane'));
    const first = gate.enter(FIRST).then(() => order.push('first lane'));
    expect(gate.waiting).toBe(2);
    gate.leave();
    await first;
    expect(order).toEqual(['first lane']);
    gate.leave();
    await later;
    expect(order).toEqual(['first lane', 'last lane']);
  });

  it('does not let a newcomer overtake a waiting request of an earlier lane', async () => {
    const gate = two(2, 5, { maxWaitMs: 1000 }, { maxWaitMs: 1000 });
    await gate.enter();
    await gate.enter();
    const waiting = gate.enter(FIRST);
    gate.leave(); // the slot goes to the waiting first-lane request ...
    expect(await waiting).toBe(true);
    const late = gate.enter(); // ... and a newcomer waits for the next one
    expect(gate.waiting).toBe(1);
    gate.leave();
    expect(await late).toBe(true);
  });

  it("queues each lane up to maxQueued, and refuses what waited its lane's wait", async () => {
    const gate = two(1, 1, { maxWaitMs: 1000 }, { maxWaitMs: 50 });
    await gate.enter();
    const later = gate.enter();
    expect(await gate.enter()).toBe(false); // the last lane's queue is full
    const first = gate.enter(FIRST); // the first lane's is not
    expect(await gate.enter(FIRST)).toBe(false);
    jest.advanceTimersByTime(50);
    expect(await later).toBe(false);
    expect(gate.waiting).toBe(1); // the first lane waits longer
    gate.leave();
    expect(await first).toBe(true);
    expect(gate.refused).toBe(3);
  });

  it("keeps each lane's reserve from the lanes after it", async () => {
    const gate = new AdmissionGate({
      maxInFlight: 4,
      maxQueued: 0,
      lanes: [{ maxWaitMs: 0, reserved: 1 }, { maxWaitMs: 0, reserved: 1 }, { maxWaitMs: 0 }],
    });
    expect(await gate.enter(2)).toBe(true);
    expect(await gate.enter(2)).toBe(true);
    expect(await gate.enter(2)).toBe(false); // two slots are kept for the lanes before it
    expect(await gate.enter(1)).toBe(true);
    expect(await gate.enter(1)).toBe(false); // the last slot is the first lane's
    expect(await gate.enter(FIRST)).toBe(true);
    expect(gate.active).toBe(4);
  });

  it('rejects reserves that leave nothing to the last lane', () => {
    expect(() => two(2, 0, { maxWaitMs: 0, reserved: 2 }, { maxWaitMs: 0 })).toThrow();
    expect(() => new AdmissionGate({ maxInFlight: 2, maxQueued: 0, lanes: [] })).toThrow();
  });
});
