/**
 * Push latency: how long after a CBO's status change is committed in CareRelay (the source Task
 * updated through the FHIR API, as referral-service mirrors a CBO Task) the EHR's own Task shows
 * it, at a fixed rate of changes per second.
 *
 * The FHIR API and the ehr-connector run as their own processes (dist, as `npm start` runs them,
 * on schemas and a consumer group of their own); the stand-in EHR server (Medplum) runs in this
 * process, which times each write it stores. The load: BENCH_TASKS referrals (Patient,
 * ServiceRequest, Task, Consent) whose CareRelay Task names an EHR Task, then BENCH_RATE status
 * changes per second for BENCH_DURATION_S seconds, round-robin over the Tasks (accepted →
 * in-progress ⇄ on-hold, each with a new businessStatus), each one PUT with If-Match as the
 * platform. Latency = EHR write of that Task version − the change's commit (its meta.lastUpdated)
 * and − the FHIR API's answer. At the end every EHR Task is read back through FHIR.
 *
 *   npm run bench:push        (a Kafka broker of its own; PostgreSQL found or started as npm start does)
 *   BENCH_RATE=200 BENCH_DURATION_S=30 BENCH_TASKS=1000 npm run bench:push
 *
 * Prints figures; it is not a test (nothing is asserted). The FHIR API runs with
 * FHIR_AUTH_DISABLED (X-Dev-Actor): tokens are not what is measured here.
 */
import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { FhirApiClient, type Resource } from '@carerelay/fhir-client';
import { dropSchema } from '@carerelay/persistence';
import { startTestTokenIssuer, type TestTokenIssuer } from '../libs/testing/src/test-tokens';
import { startEhrServer } from '../tools/ehr-server/src/ehr-server';
import { CARERELAY_VERSION_EXTENSION } from '../apps/ehr-connector/src/fhir/ehr-identity';
import { benchInfra, nodeRequire } from './bench-infra';

const ROOT = path.resolve(__dirname, '../..'); // dist/bench -> the checkout
const FIXTURES = path.join(ROOT, 'apps/fhir-api/test/fixtures');
const PLATFORM = 'carerelay-platform';
const HOSPITAL = 'bench-hospital';
const int = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const fixture = (name: string) =>
  JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8')) as Record<string, unknown>;

const RATE = int('BENCH_RATE', 200);
const DURATION_S = int('BENCH_DURATION_S', 30);
const TASKS = int('BENCH_TASKS', 1000);
const DRAIN_S = int('BENCH_DRAIN_S', 120);
const SEED_CONCURRENCY = int('BENCH_SEED_CONCURRENCY', 16);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

// CARERELAY_CPU_PROF_DIR: both apps are profiled as under npm start; the bench has them write a
// profile when the load starts and when it ends, so that one file holds the load alone.
const PROFILE_DIR = process.env.CARERELAY_CPU_PROF_DIR;
const PROFILING = PROFILE_DIR ? ['-r', './infra/lib/cpu-profile.cjs'] : [];
const PROFILE_ENV: Record<string, string> = PROFILE_DIR
  ? { CARERELAY_CPU_PROF_DIR: PROFILE_DIR }
  : {};
/** CPU time (user + system) a process has used so far, in ms (infra's reading of /proc). */
const { cpuSecondsOf } = nodeRequire('infra/bin/status.mjs') as {
  cpuSecondsOf: (pid: number) => number | undefined;
};
const cpuMsOf = (app: App | undefined): number =>
  (app?.child.pid !== undefined ? (cpuSecondsOf(app.child.pid) ?? NaN) : NaN) * 1000;

const cutProfiles = (...apps: Array<App | undefined>) => {
  if (PROFILE_DIR) for (const app of apps) app?.child.kill('SIGWINCH');
};

interface App {
  name: string;
  child: ChildProcess;
  url: string;
  log: string;
}

/** Starts a built app (dist) as its own process, waits for /health/ready. */
async function startApp(
  name: string,
  port: number,
  env: Record<string, string>,
  logDir: string,
): Promise<App> {
  const log = path.join(logDir, `${name}.log`);
  const out = createWriteStream(log);
  const child = spawn(
    process.execPath,
    [...PROFILING, '-r', './infra/lib/register-paths.cjs', `dist/apps/${name}/src/main.js`],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...PROFILE_ENV, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}): see ${log}`);
    const ok = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2_000) })
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return { name, child, url, log };
    if (Date.now() > deadline) throw new Error(`${name} not ready after 90 s: see ${log}`);
    await sleep(250);
  }
}

async function stopApp(app: App | undefined): Promise<void> {
  const child = app?.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** The connector's group starts at the end of fhir.changes.v1 (no earlier runs' changes). */
async function startGroupAtLatest(brokers: string, groupId: string, topic: string) {
  const admin = new Kafka({
    clientId: 'bench-push',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    await admin.setOffsets({
      groupId,
      topic,
      partitions: offsets.map((p) => ({ partition: p.partition, offset: p.high })),
    });
  } finally {
    await admin.disconnect();
  }
}

/** A referral (IG examples) whose Task names the EHR's Task by a placer identifier. */
function referral(tag: string, ehrBase: string, ehrTaskId: string): Resource {
  const urn = () => `urn:uuid:${randomUUID()}`;
  const [p, s, t, c] = [urn(), urn(), urn(), urn()];
  const { id: _p, ...patient } = fixture('Patient-pat-53234.json');
  const {
    id: _s,
    reasonReference: _r,
    ...sr
  } = fixture('ServiceRequest-SDOHCC-ServiceRequestActiveFoodPantryApplicationAssistExample.json');
  Object.assign(sr, {
    subject: { reference: p },
    supportingInfo: [{ reference: c }],
    requester: { reference: `Organization/${HOSPITAL}` },
  });
  const task = fixture('Task-referral-requested.json');
  Object.assign(task, {
    identifier: [
      { system: 'http://bench-hospital.example/referrals', value: tag },
      { system: `${ehrBase}/Task`, value: ehrTaskId },
    ],
    focus: { reference: s },
    for: { reference: p },
    requester: { reference: `Organization/${HOSPITAL}` },
    owner: { reference: `Organization/${PLATFORM}` },
  });
  const { id: _c, ...consent } = fixture('Consent-SDOHCC-ConsentInformationDisclosureExample.json');
  Object.assign(consent, { patient: { reference: p } });
  const entry = (fullUrl: string, resource: Record<string, unknown>) => ({
    fullUrl,
    resource,
    request: { method: 'POST', url: resource.resourceType },
  });
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [entry(p, patient), entry(s, sr), entry(t, task), entry(c, consent)],
  };
}

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

const percentile = (sorted: number[], q: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

const versionOnEhr = (task: Resource): number =>
  ((task.extension as Array<{ url?: string; valueInteger?: number }> | undefined) ?? []).find(
    (e) => e.url === CARERELAY_VERSION_EXTENSION,
  )?.valueInteger ?? 0;

interface Change {
  taskId: string;
  version: number;
  committedAt: number; // meta.lastUpdated of the version (the FHIR API's commit)
  answeredAt: number; // when its answer reached this process
  shownAt?: number; // when the EHR server stored it
}

async function main(): Promise<void> {
  const env = await benchInfra('push', 27592);
  const stamp = Date.now().toString(36);
  const fhirSchema = `fhir_bench_push_${stamp}`;
  const connectorSchema = `ehr_bench_push_${stamp}`;
  const groupId = `ehr-connector-bench-${stamp}`;
  const logDir = path.join(ROOT, '.carerelay', 'bench', `push-latency-${stamp}`);
  mkdirSync(logDir, { recursive: true });
  const [fhirPort, connectorPort] = [await freePort(), await freePort()];
  const fhirBase = `http://127.0.0.1:${fhirPort}/fhir`;
  const common = {
    KAFKA_BROKERS: env.KAFKA_BROKERS,
    DATABASE_URL: env.DATABASE_URL,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    NODE_ENV: 'development',
  };

  // The EHR server here: each stored Task version is timed the moment the repository holds it.
  const changes = new Map<string, Change>(); // `${taskId}:${version}`
  const early = new Map<string, number>(); // shown before the answer reached us (never, in practice)
  const ehrToCarerelay = new Map<string, string>();
  const writtenVersions = new Map<string, number[]>(); // by EHR Task: the versions stored, in order
  let shown = 0;
  const ehr = await startEhrServer({
    port: 0,
    onWrite: (resource) => {
      if (resource.resourceType !== 'Task') return;
      const at = Date.now();
      const taskId = ehrToCarerelay.get(resource.id as string);
      const version = versionOnEhr(resource as unknown as Resource);
      if (!taskId || version === 0) return;
      writtenVersions.set(resource.id as string, [
        ...(writtenVersions.get(resource.id as string) ?? []),
        version,
      ]);
      const key = `${taskId}:${version}`;
      const change = changes.get(key);
      if (change) {
        if (change.shownAt === undefined) shown++;
        change.shownAt ??= at;
      } else if (!early.has(key)) early.set(key, at);
    },
  });
  let fhirApi: App | undefined;
  let connector: App | undefined;
  let tokens: TestTokenIssuer | undefined;
  try {
    process.stderr.write(`[bench] EHR server ${ehr.baseUrl}; starting fhir-api, ehr-connector\n`);
    fhirApi = await startApp(
      'fhir-api',
      fhirPort,
      {
        ...common,
        FHIR_API_PORT: String(fhirPort),
        FHIR_BASE_URL: fhirBase,
        FHIR_DB_SCHEMA: fhirSchema,
        FHIR_AUTH_DISABLED: 'true',
      },
      logDir,
    );
    await startGroupAtLatest(env.KAFKA_BROKERS, groupId, 'fhir.changes.v1');
    // The connector's API takes a platform token; the bench signs its own (not what is measured).
    tokens = await startTestTokenIssuer();
    connector = await startApp(
      'ehr-connector',
      connectorPort,
      {
        ...common,
        EHR_CONNECTOR_PORT: String(connectorPort),
        EHR_CONNECTOR_DB_SCHEMA: connectorSchema,
        EHR_CONNECTOR_CONSUMER_GROUP: groupId,
        FHIR_API_BASE_URL: fhirBase,
        FHIR_API_AUTH: 'dev',
        PLATFORM_ORGANIZATION_ID: PLATFORM,
        ...tokens.env,
        ...Object.fromEntries(
          Object.entries(process.env).filter(([k]) => /^(PUSH_|OUTBOX_POLL_MS$)/.test(k)),
        ),
      } as Record<string, string>,
      logDir,
    );
    const put = await tokens.fetch(`${connector.url}/ehr-endpoints/bench-ehr`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        organizationId: HOSPITAL,
        baseUrl: ehr.baseUrl,
        auth: 'none',
        modes: ['push'],
      }),
    });
    if (!put.ok) throw new Error(`PUT /ehr-endpoints: ${put.status} ${await put.text()}`);

    // Seed: the EHR's own Tasks, and CareRelay's copies naming them (as Northside sends them).
    const ehrClient = new FhirApiClient(ehr.baseUrl);
    const hospital = new FhirApiClient(fhirBase, undefined, {
      customHeaders: { 'X-Dev-Actor': `ehr:${HOSPITAL}` },
    });
    const platform = new FhirApiClient(fhirBase, undefined, {
      customHeaders: { 'X-Dev-Actor': `platform:${PLATFORM}` },
    });
    const seeded = Date.now();
    const tasks: Resource[] = [];
    const seededVersion = new Map<string, number>(); // by CareRelay Task, before the load
    await pool(
      Array.from({ length: TASKS }, (_, i) => i),
      SEED_CONCURRENCY,
      async (i) => {
        // The EHR's own Task (its ServiceRequest and Patient are not what is measured).
        const { id: _id, focus: _f, for: _for, ...own } = fixture('Task-referral-requested.json');
        const ehrTask = await ehrClient.create<Resource>({
          ...own,
          resourceType: 'Task',
          owner: { reference: `Organization/${PLATFORM}` },
        } as Resource);
        const bundle = await hospital.transaction(
          referral(`bench-${stamp}-${i}`, ehr.baseUrl, ehrTask.id!),
        );
        const location = (bundle.entry ?? [])
          .map((e) => (e as { response?: { location?: string } }).response?.location)
          .find((l) => l?.startsWith('Task/'));
        const taskId = location!.split('/')[1];
        ehrToCarerelay.set(ehrTask.id!, taskId);
        const seededTask = await platform.read('Task', taskId);
        seededVersion.set(taskId, Number(seededTask.meta!.versionId));
        tasks.push(seededTask);
      },
    );
    process.stderr.write(
      `[bench] ${TASKS} referrals seeded in ${((Date.now() - seeded) / 1000).toFixed(1)} s; ` +
        `${RATE} changes/s for ${DURATION_S} s\n`,
    );

    // The load: one PUT with If-Match per change, from the version this process last wrote.
    const raw = await platform.raw();
    const next = (task: Resource, n: number): Resource => {
      const status =
        task.status === 'requested'
          ? 'accepted'
          : task.status === 'in-progress'
            ? 'on-hold'
            : 'in-progress';
      const body: Resource = { ...task, status, businessStatus: { text: `bench change ${n}` } };
      if (status === 'on-hold') body.statusReason = { text: 'waiting for the client to call back' };
      else delete body.statusReason;
      return body;
    };
    const busy = new Set<number>();
    let sent = 0;
    let failed = 0;
    let skipped = 0;
    let lastError = '';
    const inFlight = new Set<Promise<void>>();
    const backlog: number[] = []; // changes committed but not shown, once a second
    cutProfiles(fhirApi, connector);
    const cpuBefore = [cpuMsOf(fhirApi), cpuMsOf(connector), process.cpuUsage()] as const;
    const started = Date.now();
    const total = RATE * DURATION_S;
    let cursor = 0;
    const sampler = setInterval(() => {
      let open = 0;
      for (const c of changes.values()) if (c.shownAt === undefined) open++;
      backlog.push(open);
    }, 1000);
    let issued = 0;
    while (Date.now() - started < DURATION_S * 1000) {
      const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * RATE));
      while (issued < due) {
        issued++;
        const index = cursor++ % tasks.length;
        if (busy.has(index)) {
          skipped++;
          continue;
        }
        busy.add(index);
        const n = issued;
        const task = tasks[index];
        const work = (async () => {
          try {
            const body = next(task, n);
            const updated = (await raw.update({
              resourceType: 'Task',
              id: task.id!,
              body,
              options: { headers: { 'If-Match': `W/"${task.meta!.versionId}"` } },
            })) as Resource;
            const answeredAt = Date.now();
            tasks[index] = updated;
            const version = Number(updated.meta!.versionId);
            const key = `${task.id}:${version}`;
            const change: Change = {
              taskId: task.id!,
              version,
              committedAt: Date.parse((updated.meta as { lastUpdated: string }).lastUpdated),
              answeredAt,
            };
            const earlyAt = early.get(key);
            if (earlyAt !== undefined) {
              change.shownAt = earlyAt;
              shown++;
            }
            changes.set(key, change);
            sent++;
          } catch (error) {
            failed++;
            lastError = (error as Error).message;
          } finally {
            busy.delete(index);
          }
        })();
        inFlight.add(work);
        void work.finally(() => inFlight.delete(work));
      }
      await sleep(2);
    }
    await Promise.all([...inFlight]);
    const loadEnded = Date.now();
    cutProfiles(fhirApi, connector);
    const loadSeconds = (loadEnded - started) / 1000;
    const offered = (sent + failed) / loadSeconds;
    const committedPerSecond = sent / loadSeconds;

    // Drain: wait until every committed change is on the EHR (bounded).
    const drainDeadline = loadEnded + DRAIN_S * 1000;
    while (shown < changes.size && Date.now() < drainDeadline) await sleep(100);
    const drainedAt = Date.now();
    clearInterval(sampler);
    // CPU of each process from the load's start until every change is shown, per committed change
    // (the API's share includes answering the refused ones).
    const ownCpu = process.cpuUsage(cpuBefore[2]);
    const cpuPerChange = {
      fhirApi: (cpuMsOf(fhirApi) - cpuBefore[0]) / Math.max(1, sent),
      connector: (cpuMsOf(connector) - cpuBefore[1]) / Math.max(1, sent),
      bench: (ownCpu.user + ownCpu.system) / 1000 / Math.max(1, sent),
    };

    // Read every EHR Task back through FHIR: does it hold CareRelay's last version?
    let correct = 0;
    // A Task whose every change failed or was skipped is still at its seeded version, which is
    // a create (the connector pushes updates only): right when the EHR holds no CareRelay version.
    let unchanged = 0;
    // The others: the EHR behind, or ahead of the last answer this script saw (a change that
    // committed although its request failed here), or at that version with other content.
    const wrong = { behind: 0, ahead: 0, other: 0 };
    const behindTasks: Array<{ ehrId: string; taskId: string; latest: number; onEhr: number }> = [];
    const latestByTask = new Map(tasks.map((t) => [t.id!, t]));
    await pool([...ehrToCarerelay.entries()], SEED_CONCURRENCY, async ([ehrId, taskId]) => {
      const onEhr = await ehrClient.read('Task', ehrId);
      const latest = latestByTask.get(taskId)!;
      const onEhrVersion = versionOnEhr(onEhr);
      const latestVersion = Number(latest.meta!.versionId);
      if (latestVersion === seededVersion.get(taskId) && onEhrVersion === 0) {
        unchanged++;
        correct++;
      } else if (
        onEhrVersion === latestVersion &&
        onEhr.status === latest.status &&
        onEhr.businessStatus?.text === latest.businessStatus?.text
      )
        correct++;
      else if (onEhrVersion < latestVersion) {
        wrong.behind++;
        behindTasks.push({ ehrId, taskId, latest: latestVersion, onEhr: onEhrVersion });
      } else if (onEhrVersion > latestVersion) wrong.ahead++;
      else wrong.other++;
    });
    // Where the time went: the FHIR API's outbox (sent_at) and the connector's queue (created_at,
    // delivered_at) of each delivered version.
    const db = new Client({ connectionString: env.DATABASE_URL });
    await db.connect();
    const p = (q: number, expr: string) =>
      `percentile_disc(${q}) WITHIN GROUP (ORDER BY extract(epoch FROM ${expr}) * 1000)`;
    const relayed = "(o.sent_at - (o.payload->>'lastUpdated')::timestamptz)";
    const consumed = '(d.created_at - o.sent_at)';
    const pushed = '(d.delivered_at - d.created_at)';
    const breakdown = (
      await db.query<Record<string, string>>(
        `SELECT ${p(0.5, relayed)} AS r50, ${p(0.99, relayed)} AS r99,
           ${p(0.5, consumed)} AS c50, ${p(0.99, consumed)} AS c99,
           ${p(0.5, pushed)} AS p50, ${p(0.99, pushed)} AS p99
         FROM "${connectorSchema}".push_deliveries d
         JOIN "${fhirSchema}".outbox o ON o.payload->>'resourceType' = 'Task'
           AND o.payload->>'id' = d.task_id AND (o.payload->>'versionId')::int = d.version
         WHERE d.state = 'delivered'`,
      )
    ).rows[0];
    // Why an EHR Task is behind: what the EHR stored, in order, and the connector's queue rows.
    for (const b of behindTasks.slice(0, 3)) {
      const rows = (
        await db.query<Record<string, unknown>>(
          `SELECT version, state, attempts, last_error, created_at, delivered_at
           FROM "${connectorSchema}".push_deliveries WHERE task_id = $1 ORDER BY version`,
          [b.taskId],
        )
      ).rows;
      process.stderr.write(
        `[bench] behind: Task/${b.taskId} latest v${b.latest}, EHR holds v${b.onEhr}; EHR stored ${JSON.stringify(writtenVersions.get(b.ehrId) ?? [])}; deliveries ${JSON.stringify(rows)}\n`,
      );
    }
    await db.end();
    const deliveries = async (state: string) =>
      (
        (await (
          await tokens!.fetch(`${connector!.url}/push/deliveries?state=${state}`)
        ).json()) as unknown[]
      ).length;
    const parked = await deliveries('parked');

    const all = [...changes.values()];
    const done = all.filter((c) => c.shownAt !== undefined);
    const fromCommit = done.map((c) => c.shownAt! - c.committedAt).sort((a, b) => a - b);
    const fromAnswer = done.map((c) => c.shownAt! - c.answeredAt).sort((a, b) => a - b);
    const lastShown = Math.max(...done.map((c) => c.shownAt!));
    const ms = (v: number) => `${Math.round(v)} ms`;
    const lines = [
      '',
      'ehr-connector push latency (CareRelay source Task change committed → the EHR server’s Task shows it)',
      `  load            ${sent} changes committed in ${loadSeconds.toFixed(1)} s = ${committedPerSecond.toFixed(1)}/s (target ${RATE}/s) over ${TASKS} Tasks; answered ${offered.toFixed(1)}/s: ${failed} failed (refused or in error), ${skipped} not sent (that Task's previous change still unanswered)`,
      `  delivered       ${done.length} / ${sent} shown on the EHR (${sent - done.length} not shown after ${DRAIN_S} s); parked ${parked}`,
      `  latency         from commit:  p50 ${ms(percentile(fromCommit, 0.5))}  p90 ${ms(percentile(fromCommit, 0.9))}  p99 ${ms(percentile(fromCommit, 0.99))}  max ${ms(fromCommit[fromCommit.length - 1])}`,
      `                  from answer:  p50 ${ms(percentile(fromAnswer, 0.5))}  p99 ${ms(percentile(fromAnswer, 0.99))}`,
      `  where           commit → published (fhir-api outbox relay → Kafka):  p50 ${ms(Number(breakdown.r50))}  p99 ${ms(Number(breakdown.r99))}`,
      `                  published → queued (the connector's consumer):       p50 ${ms(Number(breakdown.c50))}  p99 ${ms(Number(breakdown.c99))}`,
      `                  queued → on the EHR (queue wait, If-Match read + PUT): p50 ${ms(Number(breakdown.p50))}  p99 ${ms(Number(breakdown.p99))}`,
      `  lag             at the end of the load ${ms(Math.max(0, lastShown - loadEnded))} until the last change was shown; not yet shown, once a second: max ${Math.max(0, ...backlog)}, mean ${(backlog.reduce((a, b) => a + b, 0) / Math.max(1, backlog.length)).toFixed(1)}`,
      `  EHR read back   ${correct} / ${TASKS} EHR Tasks hold CareRelay's latest version, status and businessStatus${unchanged > 0 ? ` (${unchanged} of them never changed by the load: no CareRelay version, as expected)` : ''}${correct < TASKS ? ` (the others: ${wrong.behind} behind, ${wrong.ahead} ahead of the last answer seen here, ${wrong.other} other content)` : ''}`,
      `  CPU             per committed change, from the load's start until all were shown: fhir-api ${cpuPerChange.fhirApi.toFixed(2)} ms, ehr-connector ${cpuPerChange.connector.toFixed(2)} ms, this process (load and EHR server) ${cpuPerChange.bench.toFixed(2)} ms`,
      `  setup           Kafka ${env.KAFKA_BROKERS}${process.env.BENCH_SHARED_KAFKA === '1' ? ' (shared)' : ' (its own)'}; fhir-api and ehr-connector as processes (dist), EHR server (Medplum) in the bench process; PUSH_CONCURRENCY ${process.env.PUSH_CONCURRENCY ?? 16}, PUSH_POLL_MS ${process.env.PUSH_POLL_MS ?? 200}; logs ${path.relative(ROOT, logDir)}`,
      ...(lastError ? [`  last error      ${lastError}`] : []),
      '',
    ];
    process.stdout.write(lines.join('\n'));
    process.stdout.write(
      `${JSON.stringify({
        rate: RATE,
        committedPerSecond: Number(committedPerSecond.toFixed(1)),
        answeredPerSecond: Number(offered.toFixed(1)),
        durationS: DURATION_S,
        tasks: TASKS,
        committed: sent,
        failed,
        skipped,
        delivered: done.length,
        parked,
        p50Ms: percentile(fromCommit, 0.5),
        p90Ms: percentile(fromCommit, 0.9),
        p99Ms: percentile(fromCommit, 0.99),
        maxMs: fromCommit[fromCommit.length - 1],
        p50FromAnswerMs: percentile(fromAnswer, 0.5),
        p99FromAnswerMs: percentile(fromAnswer, 0.99),
        lagAfterLoadMs: Math.max(0, lastShown - loadEnded),
        maxBacklog: Math.max(0, ...backlog),
        drainWaitMs: drainedAt - loadEnded,
        ehrTasksCorrect: correct,
        ehrTasksUnchanged: unchanged,
        relayP50Ms: Number(breakdown.r50),
        relayP99Ms: Number(breakdown.r99),
        consumeP50Ms: Number(breakdown.c50),
        consumeP99Ms: Number(breakdown.c99),
        pushP50Ms: Number(breakdown.p50),
        pushP99Ms: Number(breakdown.p99),
        fhirApiCpuMsPerChange: Number(cpuPerChange.fhirApi.toFixed(2)),
        connectorCpuMsPerChange: Number(cpuPerChange.connector.toFixed(2)),
        benchCpuMsPerChange: Number(cpuPerChange.bench.toFixed(2)),
      })}\n`,
    );
  } finally {
    await stopApp(connector);
    await stopApp(fhirApi);
    await tokens?.close();
    await ehr.close();
    await dropSchema(env.DATABASE_URL, connectorSchema).catch(() => undefined);
    await dropSchema(env.DATABASE_URL, fhirSchema).catch(() => undefined);
    await env.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench:push failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
