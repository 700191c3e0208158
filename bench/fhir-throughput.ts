/**
 * FHIR API intake throughput: N referral intakes (a transaction Bundle of Patient,
 * ServiceRequest, Task and Consent built from the IG examples, each a conditional create) posted
 * by a real EHR client with SMART Backend Services tokens (libs/fhir-client). The API runs in this
 * process with auth on, on a schema of its own; the client runs in a child process, so that its
 * work does not eat the server's event loop.
 *
 * In the same run, the same child process measures the floor under it: the same rows (current
 * row, history row, search index and outbox event of each resource) inserted straight into
 * PostgreSQL, one transaction per referral, multi-row statements, at the same concurrency.
 *
 *   npm run bench:fhir            (a Kafka broker of its own; PostgreSQL found or started as npm start does)
 *   BENCH_REFERRALS=2000 BENCH_CONCURRENCY=16 npm run bench:fhir
 *   BENCH_RATE=100 npm run bench:fhir   (fixed arrival rate per second instead of a closed loop)
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import type { Resource } from '@medplum/fhirtypes';
import { extractSearchIndex } from '@carerelay/fhir';
import {
  FhirApiClient,
  SmartBackendTokenSource,
  type SmartBackendCredentials,
} from '@carerelay/fhir-client';
import { int, percentile, referral, startBenchFhirApi } from './fhir-bench';

interface LoadPlan {
  baseUrl: string;
  credentials: SmartBackendCredentials;
  databaseUrl: string;
  schema: string;
  total: number;
  concurrency: number;
  rate: number;
}

interface Run {
  seconds: number;
  latencies: number[];
  failures: number;
}

/** `total` calls of `one`, by a closed loop of `concurrency` workers or at a fixed arrival rate. */
async function drive(
  plan: Pick<LoadPlan, 'total' | 'concurrency' | 'rate'>,
  one: (i: number) => Promise<void>,
): Promise<Run> {
  const latencies: number[] = [];
  let failures = 0;
  const timed = async (i: number) => {
    const t0 = performance.now();
    try {
      await one(i);
      latencies.push(performance.now() - t0);
    } catch (error) {
      failures++;
      if (failures <= 3) console.error(String(error));
    }
  };
  const started = performance.now();
  if (plan.rate > 0) {
    const pending: Promise<void>[] = [];
    for (let i = 0; i < plan.total; i++) {
      const wait = started + (i * 1000) / plan.rate - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      pending.push(timed(i));
    }
    await Promise.all(pending);
  } else {
    let next = 0;
    await Promise.all(
      Array.from({ length: plan.concurrency }, async () => {
        while (next < plan.total) await timed(next++);
      }),
    );
  }
  return { seconds: (performance.now() - started) / 1000, latencies, failures };
}

// ---------------------------------------------------------------------------------------------
// The load, in the child process.

async function postBundles(plan: LoadPlan): Promise<Run> {
  const fhir = new FhirApiClient(plan.baseUrl, new SmartBackendTokenSource(plan.credentials));
  await fhir.transaction(referral(`warm-up-${randomUUID()}`));
  return drive(plan, async (i) => {
    await fhir.transaction(referral(`${i}-${randomUUID()}`));
  });
}

/** The rows one referral's Bundle becomes, written with four multi-row statements. */
async function insertRaw(plan: LoadPlan): Promise<Run> {
  const pool = new Pool({ connectionString: plan.databaseUrl, max: plan.concurrency });
  const s = `"${plan.schema}"`;
  try {
    return await drive(plan, async (i) => {
      const now = new Date().toISOString();
      const resources = (
        referral(`raw-${i}-${randomUUID()}`).entry as { resource: Resource }[]
      ).map(({ resource }) => ({ ...resource, id: randomUUID() }) as Resource);
      const rows = resources.map((r) => ({ resource_type: r.resourceType, id: r.id, content: r }));
      const index = resources.flatMap((r) =>
        extractSearchIndex(r).map((row) => ({ ...row, resource_type: r.resourceType, id: r.id })),
      );
      const events = resources.map((r) => ({
        id: randomUUID(),
        key: `${r.resourceType}/${r.id}`,
        payload: r,
      }));
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const recordset = `jsonb_to_recordset($1::jsonb) AS x(resource_type text, id text, content jsonb)`;
        await client.query(
          `INSERT INTO ${s}.resources (resource_type, id, version_id, last_updated, deleted, content, other_orgs)
           SELECT x.resource_type, x.id, 1, $2, false, x.content, '{}' FROM ${recordset}`,
          [JSON.stringify(rows), now],
        );
        await client.query(
          `INSERT INTO ${s}.resource_history (resource_type, id, version_id, last_updated, deleted, content, other_orgs, method)
           SELECT x.resource_type, x.id, 1, $2, false, x.content, '{}', 'POST' FROM ${recordset}`,
          [JSON.stringify(rows), now],
        );
        await client.query(
          `INSERT INTO ${s}.search_index (resource_type, id, param, type, system, code, value_string,
             value_string_normalized, value_reference, value_date_start, value_date_end, value_number)
           SELECT x.resource_type, x.id, x.param, x.type, x.system, x.code, x.value_string,
             x.value_string_normalized, x.value_reference, x.value_date_start, x.value_date_end, x.value_number
           FROM jsonb_to_recordset($1::jsonb) AS x(resource_type text, id text, param text, type text,
             system text, code text, value_string text, value_string_normalized text,
             value_reference text, value_date_start timestamptz, value_date_end timestamptz,
             value_number float8)`,
          [JSON.stringify(index)],
        );
        await client.query(
          // Marked sent: the API's relay, still running, must not publish them.
          `INSERT INTO ${s}.outbox (id, topic, key, type, headers, payload, sent_at)
           SELECT x.id, 'fhir.changes.v1', x.key, 'raw', '{}', x.payload, now()
           FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, key text, payload jsonb)`,
          [JSON.stringify(events)],
        );
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      } finally {
        client.release();
      }
    });
  } finally {
    await pool.end();
  }
}

if (process.argv[2] === 'load') {
  process.once('message', ({ plan, what }: { plan: LoadPlan; what: 'api' | 'raw' }) => {
    (what === 'api' ? postBundles(plan) : insertRaw(plan)).then(
      (result) => process.send!(result, () => process.exit(0)),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
}

// ---------------------------------------------------------------------------------------------
// The server and the report, in the parent process.

function inChild(plan: LoadPlan, what: 'api' | 'raw'): Promise<Run> {
  const child = fork(__filename, ['load'], { stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('message', (result) => resolve(result as Run));
    child.once('exit', (code) => code !== 0 && reject(new Error(`load process exited ${code}`)));
    child.send({ plan, what });
  });
}

function line(label: string, run: Run): string {
  const sorted = [...run.latencies].sort((a, b) => a - b);
  const rate = run.latencies.length / run.seconds;
  return `  ${label.padEnd(34)} ${rate.toFixed(1).padStart(7)}/s  p50 ${percentile(sorted, 0.5).toFixed(1)} ms  p99 ${percentile(sorted, 0.99).toFixed(1)} ms  failures ${run.failures}`;
}

async function main(): Promise<void> {
  const bench = await startBenchFhirApi({ name: 'fhir', kafkaPort: 27593 });
  try {
    const plan: LoadPlan = {
      baseUrl: bench.api.baseUrl,
      credentials: await bench.ehrCredentials(),
      databaseUrl: bench.databaseUrl,
      schema: bench.schema,
      total: int('BENCH_REFERRALS', 1000),
      concurrency: int('BENCH_CONCURRENCY', 16),
      rate: int('BENCH_RATE', 0),
    };
    const cpu = process.cpuUsage();
    const api = await inChild(plan, 'api');
    const { user, system } = process.cpuUsage(cpu);
    // After the API's run, so that its tables hold only its own rows while it is measured.
    const raw = await inChild(plan, 'raw');
    const mode = plan.rate > 0 ? `arrival rate ${plan.rate}/s` : `concurrency ${plan.concurrency}`;
    console.log(
      `intake of ${plan.total} referrals (Patient + ServiceRequest + Task + Consent), ${mode}, client in its own process:`,
    );
    console.log(line('FHIR API transaction Bundles', api));
    console.log(
      `  ${''.padEnd(34)} server CPU ${((user + system) / 1000 / (plan.total + 1)).toFixed(1)} ms per Bundle (this process: API, relay, Kafka producer)`,
    );
    console.log(line('raw PostgreSQL inserts, same rows', raw));
    console.log(
      `  the API reaches ${((api.latencies.length / api.seconds / (raw.latencies.length / raw.seconds)) * 100).toFixed(0)}% of the raw insert rate`,
    );
  } finally {
    await bench.close();
  }
}

if (process.argv[2] !== 'load') {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
