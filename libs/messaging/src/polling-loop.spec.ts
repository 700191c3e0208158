import { PollingLoop } from './polling-loop';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('PollingLoop', () => {
  it('ticks repeatedly, never two at once, and keeps going after a failing tick', async () => {
    let active = 0;
    let maxActive = 0;
    let ticks = 0;
    const errors: string[] = [];
    const loop = new PollingLoop({
      intervalMs: 5,
      tick: async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        ticks++;
        await sleep(10);
        active--;
        if (ticks === 2) throw new Error('tick two failed');
      },
      onError: (error) => errors.push(error.message),
    });
    loop.start();
    while (ticks < 4) await sleep(5);
    await loop.stop();
    expect(maxActive).toBe(1);
    expect(errors).toEqual(['tick two failed']);
  });

  it('waits for the running tick on stop and ticks no more afterwards', async () => {
    let finished = 0;
    let started = 0;
    const loop = new PollingLoop({
      intervalMs: 1,
      tick: async () => {
        started++;
        await sleep(30);
        finished++;
      },
      onError: () => undefined,
    });
    loop.start();
    while (started === 0) await sleep(1);
    await loop.stop();
    expect(finished).toBe(started);
    await sleep(20);
    expect(started).toBe(finished);
  });

  it('ticks at once when woken, and once more right after a tick that was woken while running', async () => {
    let ticks = 0;
    let release!: () => void;
    const loop = new PollingLoop({
      intervalMs: 60_000,
      tick: async () => {
        ticks++;
        if (ticks === 2) await new Promise<void>((resolve) => (release = resolve));
      },
      onError: () => undefined,
    });
    loop.start();
    while (ticks < 1) await sleep(1);
    await sleep(5);
    expect(ticks).toBe(1);
    loop.wake();
    while (ticks < 2) await sleep(1);
    loop.wake();
    loop.wake();
    release();
    while (ticks < 3) await sleep(1);
    await sleep(20);
    await loop.stop();
    expect(ticks).toBe(3);
  });
});

describe('PollingLoop wake and again', () => {
  it('runs the next tick at once while the tick says more is waiting', async () => {
    const started = Date.now();
    let ticks = 0;
    const loop = new PollingLoop({
      intervalMs: 60_000,
      tick: async () => ++ticks,
      again: (n) => (n as number) < 5,
      onError: () => undefined,
    });
    await loop.start();
    while (ticks < 5) await sleep(2);
    await sleep(20);
    await loop.stop();
    expect(ticks).toBe(5);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('a wake during a tick runs one more tick right after it, not two at once', async () => {
    let active = 0;
    let maxActive = 0;
    let ticks = 0;
    const loop = new PollingLoop({
      intervalMs: 60_000,
      tick: async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        ticks++;
        await sleep(20);
        active--;
      },
      onError: () => undefined,
    });
    await loop.start();
    while (ticks === 0) await sleep(1);
    loop.wake();
    loop.wake();
    while (ticks < 2) await sleep(2);
    await sleep(50);
    await loop.stop();
    expect(ticks).toBe(2);
    expect(maxActive).toBe(1);
  });

  it('waits no longer than the work the tick knows of takes to fall due', async () => {
    const at: number[] = [];
    const loop = new PollingLoop({
      intervalMs: 60_000,
      quietIntervalMs: 120_000,
      tick: async () => at.push(Date.now()),
      // the first tick knows of work due in 50 ms, the second of none
      dueInMs: () => (at.length === 1 ? 50 : undefined),
      onError: () => undefined,
    });
    await loop.start();
    while (at.length < 2) await sleep(5);
    await sleep(200);
    await loop.stop();
    expect(at).toHaveLength(2);
    expect(at[1] - at[0]).toBeGreaterThanOrEqual(45);
    expect(at[1] - at[0]).toBeLessThan(1_000);
  });

  it('without a LISTEN connection, waits its interval, not the quiet one', async () => {
    let ticks = 0;
    const loop = new PollingLoop({
      intervalMs: 20,
      quietIntervalMs: 60_000,
      tick: async () => void ticks++,
      onError: () => undefined,
    });
    await loop.start();
    await sleep(300);
    await loop.stop();
    expect(ticks).toBeGreaterThan(3);
  });
});
