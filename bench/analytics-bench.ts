/**
 * Analytics at scale: the read model of BENCH_REFERRALS (default 1,000,000) referrals is loaded
 * into a schema of its own, then
 *   1. ingest: once the service has started (and loaded its columns), BENCH_EVENTS referral
 *      events (requested, routed, accepted, completed…) published to Kafka at once are drained by
 *      the service's real consumer (batch mode: one transaction and one offset commit per batch),
 *      beside the rate at which PostgreSQL takes the same rows as plain INSERTs (one per
 *      transaction) and as multi-row INSERTs, measured in the same run;
 *   2. queries: summary and equity table over the whole year (all 1,000,000 referrals) and with
 *      filters, BENCH_REQUESTS each over HTTP with a coordinator's token: p50/p95/p99;
 *   3. the same queries while BENCH_LIVE_RATE (default 100) referral events per second keep
 *      arriving, so that each answer first takes in what changed.
 *
 *   npm run bench:analytics -- --port-base 24000   (needs DATABASE_URL and KAFKA_BROKERS)
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { Kafka, logLevel } from 'kafkajs';
import { Pool } from 'pg';
import { loadConfig } from '@carerelay/config';
import {
  TOPICS,
  toKafkaRecord,
  type CloudEvent,
  type ReferralEventV1,
  type ReferralState,
} from '@carerelay/contracts';
import { brokersOf } from '@carerelay/config';
import { KafkajsMessageBus, whenBrokerSettled } from '@carerelay/messaging';
import { dropSchema } from '@carerelay/persistence';
import { AnalyticsServiceConfig } from '../apps/analytics-service/src/analytics-service.config';
import { startAnalyticsService } from '../apps/analytics-service/src/bootstrap';
import { referralEvent } from '../libs/testing/src/referral-events';

const int = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const REFERRALS = int('BENCH_REFERRALS', 1_000_000);
const EVENTS = int('BENCH_EVENTS', 30_000);
const REQUESTS = int('BENCH_REQUESTS', 100);
/** Referral events per second published during the live series. */
const LIVE_RATE = int('BENCH_LIVE_RATE', 100);
const argv = process.argv.slice(2);
const portBase = Number(argv[argv.indexOf('--port-base') + 1] || 24000);
const DAY = 86_400_000;

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const ms = (n: number) => `${n.toFixed(1)} ms`;

/** One year of referrals ending now, with dimensions spread like a mid-size network's. */
async function loadReadModel(pool: Pool, s: string, n: number): Promise<void> {
  await pool.query(`SELECT setseed(0.42)`);
  await pool.query(`
    INSERT INTO "${s}".patient (patient_key, race, ethnicity, language, zip, age_band, sex, payer_extension, source_updated_at)
    SELECT 'p' || i,
           (ARRAY['2106-3','2054-5','2028-9','1002-5','2076-8','2131-1'])[1 + (i * 7) % 6],
           (ARRAY['2135-2','2186-5','2186-5'])[1 + (i * 11) % 3],
           (ARRAY['en','en','en','es','es','vi','so','zh'])[1 + (i * 13) % 8],
           (60600 + (i * 17) % 40)::text,
           (ARRAY['0-17','18-34','35-49','50-64','65+'])[1 + (i * 19) % 5],
           (ARRAY['female','male'])[1 + (i * 23) % 2],
           (ARRAY['1','2','3','5','81'])[1 + (i * 29) % 5],
           now()
      FROM generate_series(1, ${Math.ceil(n / 2)}) i`);
  await pool.query(`
    INSERT INTO "${s}".service_request (service_request_id, category, code, source_updated_at)
    SELECT 'sr' || i, (ARRAY['food-insecurity','housing-instability','transportation-insecurity','financial-insecurity','inadequate-housing'])[1 + i % 5], 'x', now()
      FROM generate_series(1, ${n}) i`);
  await pool.query(`
    INSERT INTO "${s}".task_link (task_id, service_request_id, patient_key, source_updated_at)
    SELECT 'r' || i, 'sr' || i, 'p' || (1 + i % ${Math.ceil(n / 2)}), now()
      FROM generate_series(1, ${n}) i`);
  // A referral's times: requested in the last year, then routed, and (mostly) accepted and closed
  // hours later; some rejected once and re-routed, some still open.
  await pool.query(`
    INSERT INTO "${s}".referral (referral_id, requested_at, routed_at, accepted_at, completed_at,
        terminal_state, terminal_at, current_state, current_state_at, attempts, reroutes,
        awaited_consent, requester_org, target_org, patient_key)
    SELECT 'r' || i, t, t + interval '1 minute',
           CASE WHEN u < 0.8 THEN t + (u * 30) * interval '1 hour' END,
           CASE WHEN u < 0.6 THEN t + (2 + u * 400) * interval '1 hour' END,
           CASE WHEN u < 0.6 THEN 'completed' WHEN u < 0.7 THEN 'cancelled' END,
           CASE WHEN u < 0.6 THEN t + (2 + u * 400) * interval '1 hour'
                WHEN u < 0.7 THEN t + interval '48 hours' END,
           CASE WHEN u < 0.6 THEN 'completed' WHEN u < 0.7 THEN 'cancelled' ELSE 'accepted' END,
           t, CASE WHEN i % 9 = 0 THEN 2 ELSE 1 END, CASE WHEN i % 9 = 0 THEN 1 ELSE 0 END,
           i % 31 = 0, 'hosp-' || (i % 4), 'cbo-' || (i % 12), NULL
      FROM (SELECT i, now() - random() * interval '365 days' AS t, random() AS u
              FROM generate_series(1, ${n}) i) g`);
  await pool.query(`
    INSERT INTO "${s}".referral_event (event_id, referral_id, state, occurred_at, attempt, reason_code)
    SELECT 'e' || i, 'r' || i, 'rejected', now(), 1,
           (ARRAY['no-capacity','not-eligible','out-of-area','no-response'])[1 + i % 4]
      FROM generate_series(9, ${n}, 9) i`);
  await pool.query(`ANALYZE "${s}".referral`);
}

const STATES: Array<[ReferralState, number]> = [
  ['requested', 0],
  ['routed', 0.02],
  ['accepted', 2],
  ['in-progress', 3],
  ['completed', 20],
];

function referralEvents(run: string, count: number): CloudEvent[] {
  const events: CloudEvent[] = [];
  const t0 = Date.now() - 2 * DAY;
  for (let r = 0; events.length < count; r++) {
    for (const [state, hours] of STATES) {
      if (events.length >= count) break;
      events.push(
        referralEvent(`bench-${run}-${r}`, state, {
          occurredAt: new Date(t0 + r * 1000 + hours * 3_600_000).toISOString(),
          requesterOrganizationId: 'hosp-1',
          targetOrganizationId: state === 'requested' ? undefined : 'cbo-1',
          attempt: state === 'requested' ? undefined : 1,
          patientId: `pat-${r}`,
        }),
      );
    }
  }
  return events;
}

/** The same rows as plain INSERTs: one per transaction at the consumer's concurrency, and batched. */
async function rawInsertRates(pool: Pool, s: string, events: CloudEvent[], concurrency: number) {
  const rows = events.map((e) => {
    const d = e.data as ReferralEventV1;
    return [
      e.id,
      d.referralId,
      d.state,
      d.occurredAt,
      d.attempt ?? null,
      d.targetOrganizationId ?? null,
    ];
  });
  const columns = '(event_id, referral_id, state, occurred_at, attempt, target_org)';
  await pool.query(`CREATE TABLE "${s}".raw_single (LIKE "${s}".referral_event INCLUDING ALL)`);
  await pool.query(`CREATE TABLE "${s}".raw_batch (LIKE "${s}".referral_event INCLUDING ALL)`);
  let next = 0;
  let started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      const client = await pool.connect();
      try {
        while (next < rows.length) {
          const row = rows[next++];
          await client.query(
            `INSERT INTO "${s}".raw_single ${columns} VALUES ($1, $2, $3, $4, $5, $6)`,
            row,
          );
        }
      } finally {
        client.release();
      }
    }),
  );
  const single = rows.length / ((performance.now() - started) / 1000);
  started = performance.now();
  for (let i = 0; i < rows.length; i += 1000) {
    const chunk = rows.slice(i, i + 1000);
    await pool.query(
      `INSERT INTO "${s}".raw_batch ${columns} VALUES ${chunk
        .map((_, k) => `(${[1, 2, 3, 4, 5, 6].map((c) => `$${k * 6 + c}`).join(', ')})`)
        .join(', ')}`,
      chunk.flat(),
    );
  }
  const batch = rows.length / ((performance.now() - started) / 1000);
  return { single, batch };
}

/**
 * A coordinator's access token, shaped as the FHIR API's, from a key published on a loopback JWKS
 * (the service verifies it as it verifies the FHIR API's; only where the keys are differs).
 */
async function coordinatorToken(port: number) {
  const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
  const kid = `bench-${randomUUID()}`;
  const jwks = JSON.stringify({
    keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES384', use: 'sig' }],
  });
  const server = createServer((_, response) =>
    response.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(jwks),
  );
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${port}/fhir`;
  // Tokens live at most 300 s: a fresh one for each series of requests.
  const sign = async () => {
    const iat = Math.floor(Date.now() / 1000);
    return new SignJWT({
      client_id: 'bench-coordinator',
      org: 'bench-coordinators',
      role: 'coordinator',
      scope: 'system/*.rs',
    })
      .setProtectedHeader({ alg: 'ES384', kid, typ: 'at+jwt' })
      .setIssuer(issuer)
      .setAudience(issuer)
      .setSubject('bench-coordinator')
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(iat + 300)
      .setJti(randomUUID())
      .sign(privateKey);
  };
  return {
    env: { SERVICE_AUTH_ISSUER: issuer, SERVICE_AUTH_JWKS_URL: `${issuer}/.well-known/jwks.json` },
    headers: async () => ({ authorization: `Bearer ${await sign()}` }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A consumer group that starts at the topics' current ends (it reads only what comes next). */
async function startGroupAtEnd(kafka: Kafka, groupId: string, topics: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (const topic of topics)
      await admin.setOffsets({
        groupId,
        topic,
        partitions: (await whenBrokerSettled(() => admin.fetchTopicOffsets(topic))).map(
          ({ partition, high }) => ({
            partition,
            offset: high,
          }),
        ),
      });
  } finally {
    await admin.disconnect();
  }
}

async function main(): Promise<void> {
  const run = Date.now().toString(36);
  const schema = `analytics_bench_${run}`;
  const groupId = `analytics-bench-${run}`;
  const tokens = await coordinatorToken(portBase + 2);
  Object.assign(process.env, tokens.env);
  const config = loadConfig(AnalyticsServiceConfig, { ...process.env, LOG_LEVEL: 'error' });
  const kafka = new Kafka({
    clientId: 'analytics-bench',
    brokers: brokersOf(config),
    logLevel: logLevel.NOTHING,
  });
  const pool = new Pool({ connectionString: config.DATABASE_URL, max: 8 });
  let app: Awaited<ReturnType<typeof startAnalyticsService>> | undefined;
  try {
    // The schema and its tables, by the service's own migrations, without consuming yet.
    const topics = [
      TOPICS.referralEvents.name,
      TOPICS.followupEvents.name,
      TOPICS.consentEvents.name,
      TOPICS.directoryEvents.name,
      TOPICS.fhirChanges.name,
    ];
    // On a fresh broker the topics are made as the services make them.
    const bus = new KafkajsMessageBus({
      clientId: 'analytics-bench',
      brokers: brokersOf(config),
      logLevel: logLevel.NOTHING,
    });
    await bus.ensureTopics(Object.values(TOPICS));
    await bus.close();
    await startGroupAtEnd(kafka, groupId, topics);
    await startGroupAtEnd(kafka, `${groupId}-setup`, topics);
    app = await startAnalyticsService(config, { schema, groupId: `${groupId}-setup`, port: 0 });
    await app.close();
    app = undefined;

    let started = performance.now();
    await loadReadModel(pool, schema, REFERRALS);
    console.log(
      `read model: ${REFERRALS.toLocaleString('en')} referrals loaded in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );

    // The service, started as in production: it loads its columns at start, in the background.
    started = performance.now();
    app = await startAnalyticsService(config, { schema, groupId, port: portBase + 1 });
    const url = `http://127.0.0.1:${portBase + 1}`;
    let headers = await tokens.headers();
    const year = `from=${encodeURIComponent(new Date(Date.now() - 366 * DAY).toISOString())}`;
    const first = await fetch(`${url}/analytics/summary?${year}`, { headers });
    if (!first.ok) throw new Error(`summary: ${first.status} ${await first.text()}`);
    const summary = (await first.json()) as { referrals: number };
    console.log(
      `start to first answer (${summary.referrals.toLocaleString('en')} referrals; the columns loaded at start): ${ms(performance.now() - started)}`,
    );

    // 1. Ingest: a backlog published at once, drained by the running service's consumer.
    const events = referralEvents(run, EVENTS);
    const producer = kafka.producer();
    await producer.connect();
    started = performance.now();
    for (let i = 0; i < events.length; i += 2000)
      await producer.send({
        topic: TOPICS.referralEvents.name,
        messages: events
          .slice(i, i + 2000)
          .map((e) => toKafkaRecord(e, (e.data as ReferralEventV1).referralId)),
      });
    const publishRate = events.length / ((performance.now() - started) / 1000);
    await producer.disconnect();
    let consumed = 0;
    let firstAt = 0;
    const deadline = Date.now() + 600_000;
    while (consumed < events.length && Date.now() < deadline) {
      const [{ n }] = (
        await pool.query(`SELECT count(*)::int AS n FROM "${schema}".inbox WHERE consumer = $1`, [
          groupId,
        ])
      ).rows as Array<{ n: number }>;
      if (n > 0 && !firstAt) firstAt = performance.now();
      consumed = n;
      if (consumed < events.length) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const ingestRate = consumed / ((performance.now() - firstAt) / 1000);
    const raw = await rawInsertRates(pool, schema, events, 3);
    console.log(
      `ingest: ${consumed.toLocaleString('en')} events through the service's consumer (batches: inbox + read model in one transaction per batch): ${Math.round(ingestRate)} events/s (published at ${Math.round(publishRate)} events/s)`,
    );
    console.log(
      `baseline, same rows, same run: raw INSERT one per transaction (3 connections) ${Math.round(raw.single)} rows/s; multi-row INSERT ${Math.round(raw.batch)} rows/s`,
    );

    // 2. Queries over HTTP with a coordinator's token.
    const queries: Array<[string, string]> = [
      ['summary, whole year', `/analytics/summary?${year}`],
      [
        'summary, category + zip',
        `/analytics/summary?${year}&category=housing-instability&zip=60617`,
      ],
      ['equity by language, whole year', `/analytics/equity?${year}&dimension=language`],
      [
        'equity by race, cbo + sex',
        `/analytics/equity?${year}&dimension=race&cbo=cbo-3&sex=female`,
      ],
      ['summary, last 30 days', `/analytics/summary`],
    ];
    const series = async (when: string) => {
      for (const [label, path] of queries) {
        const times: number[] = [];
        headers = await tokens.headers();
        for (let i = 0; i < REQUESTS; i++) {
          const t = performance.now();
          const response = await fetch(`${url}${path}`, { headers });
          if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
          await response.arrayBuffer();
          times.push(performance.now() - t);
        }
        times.sort((a, b) => a - b);
        console.log(
          `${when} ${label.padEnd(32)} n=${REQUESTS}  p50 ${ms(percentile(times, 50))}  p95 ${ms(percentile(times, 95))}  p99 ${ms(percentile(times, 99))}`,
        );
      }
    };
    await series('idle');

    // 3. The same queries while events keep arriving, as they do in a running network: every
    // answer then first takes in what changed since the previous one.
    const live = referralEvents(`${run}-live`, LIVE_RATE * 600);
    const liveProducer = kafka.producer();
    await liveProducer.connect();
    let sent = 0;
    let sending = true;
    const tick = 100;
    const publishing = (async () => {
      while (sending && sent < live.length) {
        const batch = live.slice(sent, sent + Math.max(1, Math.round((LIVE_RATE * tick) / 1000)));
        sent += batch.length;
        await liveProducer.send({
          topic: TOPICS.referralEvents.name,
          messages: batch.map((e) => toKafkaRecord(e, (e.data as ReferralEventV1).referralId)),
        });
        await new Promise((resolve) => setTimeout(resolve, tick));
      }
    })();
    const liveStarted = performance.now();
    try {
      await new Promise((resolve) => setTimeout(resolve, 2000));
      await series('live');
    } finally {
      sending = false;
      await publishing;
      await liveProducer.disconnect();
    }
    console.log(
      `live: ${sent.toLocaleString('en')} events published at ${Math.round(sent / ((performance.now() - liveStarted) / 1000))} events/s during the live series`,
    );
  } finally {
    await app?.close();
    await pool.end();
    await tokens.close();
    if (!process.env.BENCH_KEEP) await dropSchema(config.DATABASE_URL, schema);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
