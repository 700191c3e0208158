import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Client as FhirKitClient, ClientConfig } from 'fhir-kit-client';

export type { FhirKitClient };

let ClientClass: (new (config: ClientConfig) => FhirKitClient) | undefined;

/**
 * fhir-kit-client 2 is ESM-only and exports only an "import" condition, so `require` by package
 * name fails in our CommonJS build. Node (>= 20.19) can `require` an ES module by file path, which
 * also works inside jest (it bypasses jest's CommonJS registry).
 */
export function fhirKitClientClass(): new (config: ClientConfig) => FhirKitClient {
  if (!ClientClass) {
    // Under jest, `module.createRequire` is jest's own (it cannot load ESM); Node's real one is
    // reachable through process.getBuiltinModule (Node >= 20.16).
    const builtin = (
      process as unknown as { getBuiltinModule?: (id: string) => typeof import('node:module') }
    ).getBuiltinModule?.('node:module');
    const nodeRequire = (builtin?.createRequire ?? createRequire)(__filename);
    const entry = (nodeRequire.resolve.paths('fhir-kit-client') ?? [])
      .map((dir) => path.join(dir, 'fhir-kit-client', 'dist', 'index.js'))
      .find((file) => existsSync(file));
    if (!entry) throw new Error('fhir-kit-client is not installed (npm ci)');
    ClientClass = (nodeRequire(entry) as { Client: new (config: ClientConfig) => FhirKitClient })
      .Client;
  }
  return ClientClass;
}

export function newFhirKitClient(config: ClientConfig): FhirKitClient {
  const Client = fhirKitClientClass();
  return new Client(config);
}
