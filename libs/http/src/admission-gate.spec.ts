import { AdmissionGate } from './admission-gate';

describe('AdmissionGate', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('admits up to maxInFlight at once, queues up to maxQueued, refuses the rest at once', async () => {
    const gate = new AdmissionGate({ maxInFlight: 2, maxQueued: 1, maxWaitMs: 1000 });
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
    const gate = new AdmissionGate({ maxInFlight: 1, maxQueued: 5, maxWaitMs: 1000 });
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
    const gate = new AdmissionGate({ maxInFlight: 1, maxQueued: 5, maxWaitMs: 500 });
    await gate.enter();
    const waiting = gate.enter();
    jest.advanceTimersByTime(500);
    expect(await waiting).toBe(false);
    expect(gate.waiting).toBe(0);
    gate.leave();
    expect(gate.active).toBe(0);
  });

  it('a newcomer does not overtake those already waiting', async () => {
    const gate = new AdmissionGate({ maxInFlight: 1, maxQueued: 5, maxWaitMs: 1000 });
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
    expect(() => new AdmissionGate({ maxInFlight: 0, maxQueued: 0, maxWaitMs: 0 })).toThrow();
  });
});
