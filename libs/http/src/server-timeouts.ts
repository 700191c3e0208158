import type { Server } from 'node:http';

/**
 * Idle keep-alive connections live longer than clients' and proxies' own idle timeouts (typically
 * 60 s at load balancers, 4 s to 60 s in HTTP clients), so the server is never the side that
 * closes a connection a client is about to reuse — Node's 5 s default does, and the client's
 * next request fails with "other side closed". The header timeout must exceed the keep-alive one.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;
export const HEADERS_TIMEOUT_MS = 66_000;

export function applyServerTimeouts(server: Server): Server {
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  return server;
}
