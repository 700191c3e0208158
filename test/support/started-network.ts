import path from 'node:path';
import type { DemoClient } from '../../tools/simulator/src/credentials';

/**
 * The network as `npm start` starts it (infra/lib/network.mjs), for the tiers that drive it from
 * outside: e2e and browser.
 */
export interface NetworkProcess {
  name: string;
  app: string;
  url: string;
  port: number;
  /** Where its /health/* and /metrics answer (MANAGEMENT_PORT); the stand-in EHRs have none. */
  managementUrl?: string;
  status: string;
  health?: string;
}
export interface Network {
  fhirBaseUrl: string;
  stateDir: string;
  infraEnv: { KAFKA_BROKERS: string; DATABASE_URL: string };
  /** fetch with the platform client's bearer token (the services' APIs need one). */
  platformTokens: { fetch: typeof fetch; token: () => Promise<string> };
  processes: NetworkProcess[];
  problems: string[];
  clients: DemoClient[];
  ehrServers?: Record<string, { baseUrl: string; mode: 'push' | 'pull' }>;
  stop: (options?: { stopInfrastructure?: boolean }) => Promise<unknown>;
}
export interface NetworkModule {
  startNetwork: (options: Record<string, unknown>) => Promise<Network>;
}

/**
 * An ES module of the checkout (`infra/...`), loaded with Node's own require (>= 20.19 loads
 * ESM), not jest's, the way libs/fhir-client loads fhir-kit-client.
 */
export function loadCheckoutModule<T>(file: string): T {
  const builtin = (
    process as unknown as { getBuiltinModule: (id: string) => typeof import('node:module') }
  ).getBuiltinModule('node:module');
  return builtin.createRequire(__filename)(path.join(__dirname, '..', '..', file)) as T;
}

export const loadNetworkModule = (): NetworkModule =>
  loadCheckoutModule<NetworkModule>('infra/lib/network.mjs');

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The probe's first defined answer, asked every `intervalMs` until `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 90_000,
  intervalMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(intervalMs);
  }
  throw new Error(
    `timed out after ${timeoutMs / 1000} s waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`,
  );
}

/** The id of the first `type` a transaction response's entries point at (response.location). */
export function idFromLocation(bundle: { entry?: unknown[] }, type: string): string {
  for (const entry of (bundle.entry ?? []) as Array<{ response?: { location?: string } }>) {
    const match = entry.response?.location?.match(new RegExp(`${type}/([^/]+)`));
    if (match) return match[1];
  }
  throw new Error(`no ${type} in the transaction response`);
}
