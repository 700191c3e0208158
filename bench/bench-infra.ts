/**
 * Where the benchmarks that publish events run: a Kafka broker of their own and the machine's
 * PostgreSQL.
 */
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..'); // dist/bench -> the checkout

/** The Kafka broker and PostgreSQL a benchmark runs on. */
export interface BenchInfra {
  KAFKA_BROKERS: string;
  DATABASE_URL: string;
  stop: () => Promise<void>;
}

type NodeModule = typeof import('node:module');
/** An infra module (`infra/...`, ES modules) loaded from the checkout by Node's own require. */
export const nodeRequire = (file: string): unknown =>
  (process as unknown as { getBuiltinModule: (id: string) => NodeModule })
    .getBuiltinModule('node:module')
    .createRequire(__filename)(path.join(ROOT, file));

/**
 * A Kafka broker of the benchmark's own (infra/lib/network.mjs startPrivateKafka, fresh data in
 * `.carerelay/bench/<name>-kafka`, port BENCH_KAFKA_PORT or `kafkaPort`): the thousands of changes
 * a run publishes on fhir.changes.v1 must neither wait for the standing consumer groups (a demo's,
 * the e2e network's) of the machine's broker nor stay behind in it, where the next `npm start`
 * would read them all before its first referral. BENCH_SHARED_KAFKA=1 uses KAFKA_BROKERS / the
 * machine's broker instead. PostgreSQL: DATABASE_URL, else found or started as npm start does
 * (own schemas, dropped after).
 */
export async function benchInfra(name: string, kafkaPort: number): Promise<BenchInfra> {
  const stops: Array<() => Promise<unknown>> = [];
  let { KAFKA_BROKERS, DATABASE_URL } = process.env;
  const shared = process.env.BENCH_SHARED_KAFKA === '1';
  if (!DATABASE_URL || (shared && !KAFKA_BROKERS)) {
    const lib = nodeRequire('infra/lib/infra.mjs') as {
      ensureInfra: (o: object) => Promise<{ KAFKA_BROKERS?: string; DATABASE_URL: string }>;
      stopInfra: (o: object) => Promise<unknown>;
    };
    const owner = `bench:${name}:${process.pid}`;
    const env = await lib.ensureInfra({ owner, quiet: true, kafka: shared && !KAFKA_BROKERS });
    DATABASE_URL ??= env.DATABASE_URL;
    KAFKA_BROKERS ??= env.KAFKA_BROKERS;
    stops.push(() => lib.stopInfra({ onlyIfStartedBy: owner }));
  }
  if (!shared) {
    const { startPrivateKafka } = nodeRequire('infra/lib/network.mjs') as {
      startPrivateKafka: (o: object) => Promise<{ brokers: string; stop: () => Promise<void> }>;
    };
    const kafka = await startPrivateKafka({
      dir: path.join(ROOT, '.carerelay', 'bench', `${name}-kafka`),
      port: Number(process.env.BENCH_KAFKA_PORT ?? kafkaPort),
      fresh: true,
      log: (line: string) => process.stderr.write(`[bench] ${line}\n`),
    });
    KAFKA_BROKERS = kafka.brokers;
    stops.unshift(() => kafka.stop());
  }
  return {
    KAFKA_BROKERS: KAFKA_BROKERS as string,
    DATABASE_URL: DATABASE_URL as string,
    stop: async () => {
      for (const stop of stops) await stop();
    },
  };
}
