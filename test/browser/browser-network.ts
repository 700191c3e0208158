import path from 'node:path';

/** The network as npm start runs it (infra/lib/network.mjs), for the browser tests. */
export interface NetworkProcess {
  name: string;
  app: string;
  url: string;
  port: number;
  status: string;
}
export interface DemoClient {
  clientId: string;
  organizationId: string;
  name: string;
  role: 'ehr' | 'cbo' | 'coordinator' | 'platform';
  alg: 'ES384' | 'RS384';
  privateJwk: Record<string, unknown>;
  publicJwks: { keys: unknown[] };
}
export interface Network {
  fhirBaseUrl: string;
  stateDir: string;
  processes: NetworkProcess[];
  problems: string[];
  clients: DemoClient[];
  ehrServers?: Record<string, { baseUrl: string; mode: string }>;
  stop: (options?: { stopInfrastructure?: boolean }) => Promise<unknown>;
}

// infra/lib/network.mjs is an ES module: Node's own require loads it (>= 20.19), not jest's.
export function loadNetworkModule(): {
  startNetwork: (options: Record<string, unknown>) => Promise<Network>;
} {
  const builtin = (
    process as unknown as { getBuiltinModule: (id: string) => typeof import('node:module') }
  ).getBuiltinModule('node:module');
  return builtin.createRequire(__filename)(
    path.join(__dirname, '..', '..', 'infra', 'lib', 'network.mjs'),
  ) as never;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
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
    await sleep(300);
  }
  throw new Error(
    `timed out waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`,
  );
}
