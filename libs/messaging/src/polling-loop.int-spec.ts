import { Client } from 'pg';
import { startTcpProxy, testEnv, uniqueName, type TcpProxy } from '@carerelay/testing';
import { PollingLoop, type PollingLoopOptions } from './polling-loop';

/**
 * A loop listening through a proxy the test controls (its LISTEN connection can be cut), a
 * client that NOTIFYs its channel directly, and the loop's tick count.
 */
function proxiedLoop(
  name: string,
  options: Omit<PollingLoopOptions, 'tick' | 'onError' | 'notify'>,
  initialDelayMs = 0,
) {
  const { DATABASE_URL } = testEnv();
  const state = {
    channel: uniqueName(name).toLowerCase(),
    proxy: undefined as unknown as TcpProxy,
    notifier: undefined as unknown as Client,
    loop: undefined as PollingLoop | undefined,
    ticks: 0,
  };
  beforeAll(async () => {
    const url = new URL(DATABASE_URL);
    state.proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.hostname = '127.0.0.1';
    url.port = String(state.proxy.port);
    state.notifier = new Client({ connectionString: DATABASE_URL });
    await state.notifier.connect();
    state.loop = new PollingLoop({
      ...options,
      tick: async () => void state.ticks++,
      onError: () => undefined,
      notify: { url: url.toString(), channel: state.channel },
    });
    await state.loop.start(initialDelayMs);
  });
  afterAll(async () => {
    await state.loop?.stop();
    await state.notifier?.end();
    await state.proxy?.close();
  });
  return state;
}

// The loop's LISTEN connection lost to the network: polling carries on, and once PostgreSQL is
// reachable again the loop listens again, so that queued work wakes it at once as before.
describe('PollingLoop notifications across a lost database connection', () => {
  // Polls once a minute: within this test, only a notification makes it tick.
  const t = proxiedLoop('loop_wake', { intervalMs: 60_000 }, 60_000);

  /** NOTIFY every 300 ms until the loop t.ticks; how long that took, or undefined. */
  const wokenWithin = async (ms: number): Promise<number | undefined> => {
    const before = t.ticks;
    const started = Date.now();
    while (Date.now() - started < ms) {
      await t.notifier.query(`NOTIFY ${t.channel}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      if (t.ticks > before) return Date.now() - started;
    }
    return undefined;
  };

  it('is woken by NOTIFY, listens again after the connection is cut, and is woken again', async () => {
    expect(await wokenWithin(3_000)).toBeDefined();
    // Its connection says in pg_stat_activity what it listens for.
    const { rows } = await t.notifier.query<{ query: string }>(
      `SELECT query FROM pg_stat_activity WHERE application_name = $1`,
      [`carerelay-listen-${t.channel}`.slice(0, 63)],
    );
    expect(rows).toEqual([{ query: `LISTEN ${t.channel}` }]);

    t.proxy.partition();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await wokenWithin(1_000)).toBeUndefined();

    t.proxy.heal();
    // Listening again, it t.ticks once by itself (work queued meanwhile notified nobody) ...
    const before = t.ticks;
    const healed = Date.now();
    while (t.ticks === before && Date.now() - healed < 15_000) await sleep(100);
    expect(t.ticks).toBeGreaterThan(before);
    // ... and notifications wake it again.
    await sleep(500);
    expect(await wokenWithin(3_000)).toBeDefined();
  }, 40_000);
});

// While it listens, a loop with a quiet interval polls only that rarely: the notifications wake
// it. Without its LISTEN connection it polls at its normal interval again.
describe('PollingLoop quiet interval', () => {
  const t = proxiedLoop('loop_quiet', { intervalMs: 100, quietIntervalMs: 60_000 });

  it('does not poll every interval while it listens, is woken by NOTIFY, and polls again when cut off', async () => {
    await sleep(300);
    const listening = t.ticks;
    expect(listening).toBe(1); // the first tick, then quiet
    await sleep(1_000);
    expect(t.ticks).toBe(listening);

    await t.notifier.query(`NOTIFY ${t.channel}`);
    const notified = Date.now();
    while (t.ticks === listening && Date.now() - notified < 3_000) await sleep(20);
    expect(t.ticks).toBe(listening + 1);

    t.proxy.partition();
    await sleep(1_500);
    // Cut off: polling every 100 ms again (several t.ticks in 1.5 s, with no notification).
    expect(t.ticks).toBeGreaterThan(listening + 5);
    t.proxy.heal();
  }, 20_000);
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
