import { Client } from 'pg';
import { startTcpProxy, testEnv, uniqueName, type TcpProxy } from '@carerelay/testing';
import { PollingLoop } from './polling-loop';

// The loop's LISTEN connection lost to the network: polling carries on, and once PostgreSQL is
// reachable again the loop listens again, so that queued work wakes it at once as before.
describe('PollingLoop notifications across a lost database connection', () => {
  const { DATABASE_URL } = testEnv();
  const channel = uniqueName('loop_wake').toLowerCase();
  let proxy: TcpProxy;
  let notifier: Client;
  let loop: PollingLoop | undefined;
  let ticks = 0;

  beforeAll(async () => {
    const url = new URL(DATABASE_URL);
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    notifier = new Client({ connectionString: DATABASE_URL });
    await notifier.connect();
    // Polls once a minute: within this test, only a notification makes it tick.
    loop = new PollingLoop({
      intervalMs: 60_000,
      tick: async () => void ticks++,
      onError: () => undefined,
      notify: { url: url.toString(), channel },
    });
    await loop.start(60_000);
  });

  afterAll(async () => {
    await loop?.stop();
    await notifier?.end();
    await proxy?.close();
  });

  /** NOTIFY every 300 ms until the loop ticks; how long that took, or undefined. */
  const wokenWithin = async (ms: number): Promise<number | undefined> => {
    const before = ticks;
    const started = Date.now();
    while (Date.now() - started < ms) {
      await notifier.query(`NOTIFY ${channel}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      if (ticks > before) return Date.now() - started;
    }
    return undefined;
  };

  it('is woken by NOTIFY, listens again after the connection is cut, and is woken again', async () => {
    expect(await wokenWithin(3_000)).toBeDefined();

    proxy.partition();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await wokenWithin(1_000)).toBeUndefined();

    proxy.heal();
    // Listening again, it ticks once by itself (work queued meanwhile notified nobody) ...
    const before = ticks;
    const healed = Date.now();
    while (ticks === before && Date.now() - healed < 15_000) await sleep(100);
    expect(ticks).toBeGreaterThan(before);
    // ... and notifications wake it again.
    await sleep(500);
    expect(await wokenWithin(3_000)).toBeDefined();
  }, 40_000);
});

// While it listens, a loop with a quiet interval polls only that rarely: the notifications wake
// it. Without its LISTEN connection it polls at its normal interval again.
describe('PollingLoop quiet interval', () => {
  const { DATABASE_URL } = testEnv();
  const channel = uniqueName('loop_quiet').toLowerCase();
  let proxy: TcpProxy;
  let notifier: Client;
  let loop: PollingLoop | undefined;
  let ticks = 0;

  beforeAll(async () => {
    const url = new URL(DATABASE_URL);
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    notifier = new Client({ connectionString: DATABASE_URL });
    await notifier.connect();
    loop = new PollingLoop({
      intervalMs: 100,
      quietIntervalMs: 60_000,
      tick: async () => void ticks++,
      onError: () => undefined,
      notify: { url: url.toString(), channel },
    });
    await loop.start();
  });

  afterAll(async () => {
    await loop?.stop();
    await notifier?.end();
    await proxy?.close();
  });

  it('does not poll every interval while it listens, is woken by NOTIFY, and polls again when cut off', async () => {
    await sleep(300);
    const listening = ticks;
    expect(listening).toBe(1); // the first tick, then quiet
    await sleep(1_000);
    expect(ticks).toBe(listening);

    await notifier.query(`NOTIFY ${channel}`);
    const notified = Date.now();
    while (ticks === listening && Date.now() - notified < 3_000) await sleep(20);
    expect(ticks).toBe(listening + 1);

    proxy.partition();
    await sleep(1_500);
    // Cut off: polling every 100 ms again (several ticks in 1.5 s, with no notification).
    expect(ticks).toBeGreaterThan(listening + 5);
    proxy.heal();
  }, 20_000);
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
