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
});
