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
import { randomUUID } from 'node:crypto';
import { FhirApiClient, SmartBackendTokenSource } from '@carerelay/fhir-client';
import { int, percentile, referral, startBenchFhirApi } from './fhir-bench';

async function main(): Promise<void> {
  const total = int('BENCH_REFERRALS', 1000);
  const concurrency = int('BENCH_CONCURRENCY', 16);
  const rate = int('BENCH_RATE', 0);
  const bench = await startBenchFhirApi();
  try {
    const fhir = new FhirApiClient(
      bench.api.baseUrl,
      new SmartBackendTokenSource(await bench.ehrCredentials()),
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
    await bench.close();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
