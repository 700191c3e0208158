/**
 * Overload: what the FHIR API does when offered more than it can take. The API runs in this
 * process (auth on, its own schema); the load comes from a child process, so that the client's
 * work does not eat the server's event loop. Three phases:
 *
 *   1. baseline: a closed loop of BENCH_CONCURRENCY EHR clients posting referral Bundles for
 *      BENCH_BASELINE_SECONDS: the sustainable rate R and its latencies;
 *   2. overload: BENCH_OVERLOAD_FACTOR × R Bundles/s offered at a fixed arrival rate for
 *      BENCH_OVERLOAD_SECONDS, each Bundle sent once;
 *   3. drain: the time until every change of what was accepted has left the outbox for Kafka.
 *
 * Then nothing may be lost: the stored Tasks are exactly the accepted Bundles. Printed: the rates,
 * the accepted Bundles' p50/p99 in both phases side by side, how fast refusals came and with what
 * status, and the drain time.
 *
 *   npm run bench:overload     (a Kafka broker of its own; PostgreSQL found or started as npm start does)
 *   BENCH_OVERLOAD_SECONDS=60 BENCH_OVERLOAD_FACTOR=3 npm run bench:overload
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import {
  FhirApiClient,
  FhirRequestError,
  SmartBackendTokenSource,
  type SmartBackendCredentials,
} from '@carerelay/fhir-client';
import { int, percentile, referral, startBenchFhirApi } from './fhir-bench';

interface LoadPlan {
  baseUrl: string;
  credentials: SmartBackendCredentials;
  concurrency: number;
  baselineSeconds: number;
  overloadSeconds: number;
  overloadFactor: number;
}

interface Sample {
  phase: 'baseline' | 'overload';
  status: number;
  ms: number;
}

interface LoadResult {
  baselineRate: number;
  offeredRate: number;
  samples: Sample[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// The load, in the child process.

async function generateLoad(plan: LoadPlan): Promise<LoadResult> {
  const fhir = new FhirApiClient(plan.baseUrl, new SmartBackendTokenSource(plan.credentials));
  await fhir.transaction(referral(`warm-up-${randomUUID()}`));
  const samples: Sample[] = [];
  const post = async (phase: Sample['phase']) => {
    const t0 = performance.now();
    let status = 200;
    try {
      await fhir.transaction(referral(randomUUID()));
    } catch (error) {
      status = error instanceof FhirRequestError ? error.status : -1;
    }
    samples.push({ phase, status, ms: performance.now() - t0 });
  };

  const baselineEnd = performance.now() + plan.baselineSeconds * 1000;
  await Promise.all(
    Array.from({ length: plan.concurrency }, async () => {
      while (performance.now() < baselineEnd) await post('baseline');
    }),
  );
  const baselineOk = samples.filter((s) => s.status === 200).length;
  const baselineRate = baselineOk / plan.baselineSeconds;

  const offeredRate = Math.max(1, baselineRate * plan.overloadFactor);
  const total = Math.round(offeredRate * plan.overloadSeconds);
  const started = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = started + (i * 1000) / offeredRate - performance.now();
    if (wait > 0) await sleep(wait);
    pending.push(post('overload'));
  }
  await Promise.all(pending);
  return { baselineRate, offeredRate, samples };
}

if (process.argv[2] === 'load') {
  process.once('message', (plan: LoadPlan) => {
    generateLoad(plan).then(
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

function runLoad(plan: LoadPlan): Promise<LoadResult> {
  const child = fork(__filename, ['load'], { stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('message', (result) => resolve(result as LoadResult));
    child.once('exit', (code) => code !== 0 && reject(new Error(`load process exited ${code}`)));
    child.send(plan);
  });
}

const describe = (samples: Sample[]) => {
  const sorted = samples.map((s) => s.ms).sort((a, b) => a - b);
  return `p50 ${percentile(sorted, 0.5).toFixed(0)} ms, p99 ${percentile(sorted, 0.99).toFixed(0)} ms`;
};

async function main(): Promise<void> {
  const bench = await startBenchFhirApi({ name: 'overload', kafkaPort: 27594 });
  try {
    const db = bench.api.app.get(DataSource);
    const count = async (sql: string) =>
      Number((await db.query(sql.replace(/\$s/g, `"${bench.schema}"`)))[0].n);
    const plan: LoadPlan = {
      baseUrl: bench.api.baseUrl,
      credentials: await bench.ehrCredentials(),
      concurrency: int('BENCH_CONCURRENCY', 16),
      baselineSeconds: int('BENCH_BASELINE_SECONDS', 30),
      overloadSeconds: int('BENCH_OVERLOAD_SECONDS', 60),
      overloadFactor: int('BENCH_OVERLOAD_FACTOR', 3),
    };
    const { baselineRate, offeredRate, samples } = await runLoad(plan);
    const loadEnded = Date.now();

    let unsent = await count('SELECT count(*) AS n FROM $s.outbox WHERE sent_at IS NULL');
    const backlog = unsent;
    while (unsent > 0 && Date.now() - loadEnded < 300_000) {
      await sleep(500);
      unsent = await count('SELECT count(*) AS n FROM $s.outbox WHERE sent_at IS NULL');
    }
    const drainSeconds = (Date.now() - loadEnded) / 1000;

    const of = (phase: Sample['phase'], pick: (s: Sample) => boolean) =>
      samples.filter((s) => s.phase === phase && pick(s));
    const ok = (s: Sample) => s.status === 200;
    const refused = (s: Sample) => s.status === 503 || s.status === 429;
    const accepted = samples.filter(ok).length + 1; // and the warm-up
    const tasks = await count(
      `SELECT count(*) AS n FROM $s.resources WHERE resource_type = 'Task'`,
    );
    const statuses = new Map<number, number>();
    for (const s of of('overload', () => true))
      statuses.set(s.status, (statuses.get(s.status) ?? 0) + 1);

    console.log(
      `fhir-api under overload (transaction Bundles of 4 resources, real SMART tokens, load from a separate process):`,
    );
    console.log(
      `  baseline   closed loop of ${plan.concurrency} for ${plan.baselineSeconds} s: ${baselineRate.toFixed(1)} Bundles/s, accepted ${describe(of('baseline', ok))}`,
    );
    console.log(
      `  overload   ${offeredRate.toFixed(1)} Bundles/s offered (${plan.overloadFactor}×) for ${plan.overloadSeconds} s: accepted ${(of('overload', ok).length / plan.overloadSeconds).toFixed(1)}/s, ${describe(of('overload', ok))}`,
    );
    console.log(
      `             refused ${of('overload', refused).length} (${describe(of('overload', refused))}); statuses ${[...statuses].map(([s, n]) => `${s}×${n}`).join(', ')}`,
    );
    console.log(
      `  drain      ${backlog} outbox events unsent when the load ended; ${unsent} after ${drainSeconds.toFixed(1)} s`,
    );
    console.log(
      `  lost       stored Tasks ${tasks}, accepted Bundles ${accepted}: ${tasks === accepted ? 'none lost, none extra' : 'MISMATCH'}`,
    );
    if (tasks !== accepted || unsent > 0) process.exitCode = 1;
  } finally {
    await bench.close();
  }
}

if (process.argv[2] !== 'load') {
  main().then(
    () => process.exit(process.exitCode ?? 0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
