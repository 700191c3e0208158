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

describe('AdmissionGate priority lane', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('leaves the reserved slots to priority requests', async () => {
    const gate = new AdmissionGate({
      maxInFlight: 3,
      maxQueued: 0,
      maxWaitMs: 1000,
      reservedForPriority: 1,
    });
    expect(await gate.enter()).toBe(true);
    expect(await gate.enter()).toBe(true);
    expect(await gate.enter()).toBe(false); // the last slot is reserved
    expect(await gate.enter(true)).toBe(true);
    expect(await gate.enter(true)).toBe(false); // full, and no queue
    expect(gate.active).toBe(3);
  });

  it('admits a waiting priority request before requests that waited longer', async () => {
    const gate = new AdmissionGate({ maxInFlight: 1, maxQueued: 5, maxWaitMs: 1000 });
    await gate.enter();
    const order: string[] = [];
    const normal = gate.enter().then(() => order.push('normal'));
    const priority = gate.enter(true).then(() => order.push('priority'));
    expect(gate.waiting).toBe(2);
    gate.leave();
    await priority;
    expect(order).toEqual(['priority']);
    gate.leave();
    await normal;
    expect(order).toEqual(['priority', 'normal']);
  });

  it('does not let a newcomer overtake a waiting priority request', async () => {
    const gate = new AdmissionGate({ maxInFlight: 2, maxQueued: 5, maxWaitMs: 1000 });
    await gate.enter();
    await gate.enter();
    const waiting = gate.enter(true);
    gate.leave(); // the slot goes to the waiting priority request ...
    expect(await waiting).toBe(true);
    const late = gate.enter(); // ... and a newcomer waits for the next one
    expect(gate.waiting).toBe(1);
    gate.leave();
    expect(await late).toBe(true);
  });

  it('queues each lane up to maxQueued, and refuses what waited maxWaitMs', async () => {
    const gate = new AdmissionGate({ maxInFlight: 1, maxQueued: 1, maxWaitMs: 500 });
    await gate.enter();
    const normal = gate.enter();
    expect(await gate.enter()).toBe(false); // the normal lane is full
    const priority = gate.enter(true); // its own lane is not
    expect(await gate.enter(true)).toBe(false);
    jest.advanceTimersByTime(500);
    expect(await normal).toBe(false);
    expect(await priority).toBe(false);
    expect(gate.waiting).toBe(0);
    expect(gate.refused).toBe(4);
  });

  it('lets a priority request wait priorityMaxWaitMs, others maxWaitMs', async () => {
    const gate = new AdmissionGate({
      maxInFlight: 1,
      maxQueued: 5,
      maxWaitMs: 50,
      priorityMaxWaitMs: 1000,
    });
    await gate.enter();
    const normal = gate.enter();
    const priority = gate.enter(true);
    jest.advanceTimersByTime(50);
    expect(await normal).toBe(false);
    expect(gate.waiting).toBe(1);
    gate.leave(); // the priority request, still waiting, goes in
    expect(await priority).toBe(true);
    expect(gate.refused).toBe(1);
  });

  it('rejects a reserve that leaves nothing to other requests', () => {
    expect(
      () =>
        new AdmissionGate({ maxInFlight: 2, maxQueued: 0, maxWaitMs: 0, reservedForPriority: 2 }),
    ).toThrow();
  });
});
