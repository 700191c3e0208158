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
    expect(await wokenWithin(15_000)).toBeDefined();
  }, 40_000);
});
