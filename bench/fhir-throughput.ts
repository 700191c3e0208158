/**
 * FHIR API throughput: N referral intakes (a transaction Bundle of Patient, ServiceRequest, Task
 * and Consent built from the IG examples, each a conditional create) posted by a real EHR client
 * with SMART Backend Services tokens (libs/fhir-client), against the app started in-process with
 * auth enabled, on a schema of its own. Prints Bundles per second and p50/p99 latency.
 *
 *   npm run bench:fhir            (needs DATABASE_URL and KAFKA_BROKERS: npm run infra:up)
 *   BENCH_REFERRALS=2000 BENCH_CONCURRENCY=16 npm run bench:fhir
 *   BENCH_RATE=100 npm run bench:fhir   (fixed arrival rate per second instead of a closed loop)
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { loadConfig } from '@carerelay/config';
import { FhirApiClient, type Resource, SmartBackendTokenSource } from '@carerelay/fhir-client';
import { dropSchema } from '@carerelay/persistence';
import { DataSource } from 'typeorm';
import { ClientRegistry } from '../apps/fhir-api/src/auth/client-registry';
import { tokenUrlOf } from '../apps/fhir-api/src/auth/auth.config';
import { startFhirApi } from '../apps/fhir-api/src/bootstrap';
import { FhirApiConfig } from '../apps/fhir-api/src/fhir-api.config';

const FIXTURES = path.resolve(__dirname, '../../apps/fhir-api/test/fixtures');
const fixture = (name: string) =>
  JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8')) as Record<string, unknown>;
const int = (name: string, fallback: number) => Number(process.env[name] ?? fallback);

function referral(tag: string): Resource {
  const urn = () => `urn:uuid:${randomUUID()}`;
  const [p, s, t, c] = [urn(), urn(), urn(), urn()];
  const SYSTEM = 'http://hospital.example.org/referrals';
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

const percentile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

async function main(): Promise<void> {
  const { DATABASE_URL, KAFKA_BROKERS } = process.env;
  if (!DATABASE_URL || !KAFKA_BROKERS) throw new Error('DATABASE_URL and KAFKA_BROKERS are needed');
  const total = int('BENCH_REFERRALS', 1000);
  const concurrency = int('BENCH_CONCURRENCY', 16);
  const rate = int('BENCH_RATE', 0);
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
    }),
  );
  try {
    // Register the EHR client as `npm run cli -- clients:add` does.
    const { privateKey, publicKey } = await generateKeyPair('ES384', { extractable: true });
    const kid = randomUUID();
    const registry = ClientRegistry.forDataSource(api.app.get(DataSource));
    const client = await registry.add({
      organizationId: 'bench-hospital',
      role: 'ehr',
      jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES384', use: 'sig' }] },
    });
    const fhir = new FhirApiClient(
      api.baseUrl,
      new SmartBackendTokenSource({
        tokenUrl: tokenUrlOf(api.baseUrl),
        clientId: client.clientId,
        privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'ES384' },
        alg: 'ES384',
        scope: 'system/*.cruds',
      }),
    );
    await fhir.transaction(referral('warm-up'));
    const latencies: number[] = [];
    let failures = 0;
    const one = async (i: number) => {
      const bundle = referral(`${i}-${randomUUID()}`);
      const t0 = performance.now();
      try {
        await fhir.transaction(bundle);
        latencies.push(performance.now() - t0);
      } catch (error) {
        failures++;
        if (failures <= 3) console.error(String(error));
      }
    };
    const started = performance.now();
    if (rate > 0) {
      const pending: Promise<void>[] = [];
      for (let i = 0; i < total; i++) {
        const due = started + (i * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        pending.push(one(i));
      }
      await Promise.all(pending);
    } else {
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < total) await one(next++);
        }),
      );
    }
    const seconds = (performance.now() - started) / 1000;
    const sorted = [...latencies].sort((a, b) => a - b);
    const mode = rate > 0 ? `arrival rate ${rate}/s` : `concurrency ${concurrency}`;
    console.log(
      `fhir-api transaction Bundles (4 resources each, real SMART tokens), ${total} referrals, ${mode}:`,
    );
    console.log(
      `  ${(latencies.length / seconds).toFixed(1)} Bundles/s  p50 ${percentile(sorted, 0.5).toFixed(1)} ms  p99 ${percentile(sorted, 0.99).toFixed(1)} ms  failures ${failures}`,
    );
  } finally {
    await api.close();
    await dropSchema(DATABASE_URL, schema);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
