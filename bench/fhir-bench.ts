/**
 * What the FHIR benchmarks share. The referral an EHR sends, as they post it: a transaction Bundle of Patient,
 * ServiceRequest, Task and Consent built from the IG examples, each a conditional create on a
 * business identifier of `BENCH_IDENTIFIER_SYSTEM`.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { DataSource } from 'typeorm';
import { loadConfig } from '@carerelay/config';
import type { Resource, SmartBackendCredentials } from '@carerelay/fhir-client';
import { dropSchema } from '@carerelay/persistence';
import { ClientRegistry } from '../apps/fhir-api/src/auth/client.registry';
import { tokenUrlOf } from '../apps/fhir-api/src/auth/auth.config';
import { startFhirApi, type RunningFhirApi } from '../apps/fhir-api/src/bootstrap';
import { FhirApiConfig } from '../apps/fhir-api/src/fhir-api.config';
import { benchInfra } from './bench-infra';

export const BENCH_IDENTIFIER_SYSTEM = 'http://hospital.example.org/referrals';

const FIXTURES = path.resolve(__dirname, '../../apps/fhir-api/test/fixtures');
const fixture = (name: string) =>
  JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8')) as Record<string, unknown>;

export function referral(tag: string): Resource {
  const urn = () => `urn:uuid:${randomUUID()}`;
  const [p, s, t, c] = [urn(), urn(), urn(), urn()];
  const SYSTEM = BENCH_IDENTIFIER_SYSTEM;
  const { id: _p, ...patient } = fixture('Patient-pat-53234.json');
  patient.identifier = [{ system: SYSTEM, value: `mrn-${tag}` }];
  const {
    id: _s,
    reasonReference: _r,
    ...sr
  } = fixture('ServiceRequest-SDOHCC-ServiceRequestActiveFoodPantryApplicationAssistExample.json');
  Object.assign(sr, {
    identifier: [{ system: SYSTEM, value: `sr-${tag}` }],
    subject: { reference: p },
    supportingInfo: [{ reference: c }],
  });
  const task = fixture('Task-referral-requested.json');
  Object.assign(task, {
    identifier: [{ system: SYSTEM, value: `task-${tag}` }],
    focus: { reference: s },
    for: { reference: p },
  });
  const { id: _c, ...consent } = fixture('Consent-SDOHCC-ConsentInformationDisclosureExample.json');
  Object.assign(consent, {
    identifier: [{ system: SYSTEM, value: `consent-${tag}` }],
    patient: { reference: p },
  });
  const entry = (fullUrl: string, resource: Record<string, unknown>, id: string) => ({
    fullUrl,
    resource,
    request: {
      method: 'POST',
      url: resource.resourceType,
      ifNoneExist: `identifier=${SYSTEM}|${id}`,
    },
  });
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      entry(p, patient, `mrn-${tag}`),
      entry(s, sr, `sr-${tag}`),
      entry(t, task, `task-${tag}`),
      entry(c, consent, `consent-${tag}`),
    ],
  };
}

export const int = (name: string, fallback: number) => Number(process.env[name] ?? fallback);

export const percentile = (sorted: number[], q: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

export interface BenchFhirApi {
  api: RunningFhirApi;
  schema: string;
  databaseUrl: string;
  /** An EHR client registered as `npm run cli -- clients:add` does, with its private key. */
  ehrCredentials(): Promise<SmartBackendCredentials>;
  close(): Promise<void>;
}

/**
 * The FHIR API in this process with auth on, on a schema of its own (dropped by close()), on the
 * benchmark's infrastructure (benchInfra, stopped by close()).
 */
export async function startBenchFhirApi(
  infra: { name: string; kafkaPort: number },
  env: Record<string, string> = {},
): Promise<BenchFhirApi> {
  const bench = await benchInfra(infra.name, infra.kafkaPort);
  const { DATABASE_URL, KAFKA_BROKERS } = bench;
  const schema = `fhir_bench_${Date.now().toString(36)}`;
  const api = await startFhirApi(
    loadConfig(FhirApiConfig, {
      DATABASE_URL,
      KAFKA_BROKERS,
      FHIR_API_PORT: '0',
      FHIR_BASE_URL: 'http://127.0.0.1:8080/fhir',
      FHIR_DB_SCHEMA: schema,
      LOG_LEVEL: 'silent',
      NODE_ENV: 'production',
      // The API's own settings given to the benchmark (FHIR_MAX_IN_FLIGHT=... npm run bench:...).
      ...Object.fromEntries(
        Object.entries(process.env).filter(
          (e): e is [string, string] => e[0].startsWith('FHIR_') && e[1] !== undefined,
        ),
      ),
      ...env,
    }),
  ).catch(async (error: unknown) => {
    await bench.stop();
    throw error;
  });
  return {
    api,
    schema,
    databaseUrl: DATABASE_URL,
    async ehrCredentials() {
      const { privateKey, publicKey } = await generateKeyPair('ES384', { extractable: true });
      const kid = randomUUID();
      const registry = ClientRegistry.forDataSource(api.app.get(DataSource));
      const client = await registry.add({
        organizationId: 'bench-hospital',
        role: 'ehr',
        jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES384', use: 'sig' }] },
      });
      return {
        tokenUrl: tokenUrlOf(api.baseUrl),
        clientId: client.clientId,
        privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'ES384' },
        alg: 'ES384',
        scope: 'system/*.cruds',
      };
    },
    async close() {
      try {
        await api.close();
        await dropSchema(DATABASE_URL, schema);
      } finally {
        await bench.stop();
      }
    },
  };
}
