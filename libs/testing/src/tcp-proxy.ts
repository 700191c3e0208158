/** A proxy in front of a server, controlled by a test (infra/lib/tcp-proxy.cjs says how each fault looks). */
export interface TcpProxy {
  port: number;
  /** The port closed: every connection through it reset, new ones refused. */
  down(): Promise<void>;
  /** Accepting again on the same port. */
  up(): Promise<void>;
  /** Every connection reset, new ones accepted and never answered. */
  partition(): void;
  /** Connections kept, nothing passes; new ones never answered. */
  blackhole(): void;
  /** Traffic passes again; connections that lost bytes during the fault are ended. */
  heal(): void;
  close(): Promise<void>;
}

// The one implementation is plain JavaScript so that the resilience harness (.mjs) uses it too.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const proxy = require('../../../infra/lib/tcp-proxy.cjs') as {
  startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy>;
};

export const startTcpProxy = proxy.startTcpProxy;
