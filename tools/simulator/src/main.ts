import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  ReferralEventTypes,
  TOPICS,
  fromKafkaRecord,
  type ReferralEventV1,
} from '@carerelay/contracts';
import { FhirApiClient } from '@carerelay/fhir-client';
import { KafkajsMessageBus } from '@carerelay/messaging';
import { CboBots, DEFAULT_BOT_OPTIONS } from './cbo-bots';
import { fhirClientFor, readClientsFile, type DemoClient } from './credentials';
import { DEFAULT_PLATFORM_ORGANIZATION_ID, DEMO_HOSPITALS, demoDirectory } from './demo-network';
import { ReferralGenerator } from './referral-generator';
import { ReferralSimulator } from './referral-simulator';
import { seed } from './seed';

/**
 * The demo's referral simulator and CBO bots (not a service: `npm start` runs it after the apps
 * are ready).
 *
 *   node -r ./infra/lib/register-paths.cjs dist/tools/simulator/src/main.js seed --state-dir <dir>
 *       --platform <platform client json> [--publish-directory] [--load-fhir-directory]
 *   node -r ./infra/lib/register-paths.cjs dist/tools/simulator/src/main.js run --state-dir <dir>
 *       [--rate 2] [--no-bots] [--reject-share 0.1] [--poll-ms <ms>] [--no-events] [--duration <s>]
 *
 * The CBO bots learn of their routed Tasks from referral.events.v1 (KAFKA_BROKERS) and search for
 * missed ones every 60 s; with --no-events (or without KAFKA_BROKERS) they search every 2 s.
 *
 * Environment: FHIR_API_BASE_URL, and for `seed` DATABASE_URL, KAFKA_BROKERS, FHIR_DB_SCHEMA.
 * `run` reports its counters every second over the IPC channel when it has one (npm start),
 * else as a log line every 5 s.
 */

/** The bots' safety-net search when routed Tasks are offered from the referral events. */
const EVENT_FED_POLL_MS = 60_000;

const log = (line: string) => process.stdout.write(`${line}\n`);

function env(name: string, fallback?: string): string {
  const value = process.env[name] ?? fallback;
  if (!value) throw new Error(`${name} is required`);
  return value;
}

async function seedCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      'state-dir': { type: 'string' },
      platform: { type: 'string' },
      'publish-directory': { type: 'boolean', default: false },
      'load-fhir-directory': { type: 'boolean', default: false },
    },
  });
  const stateDir = values['state-dir'] ?? '.carerelay/demo';
  const platformFile = values.platform ?? path.join(stateDir, 'platform.json');
  const platform = JSON.parse(readFileSync(platformFile, 'utf8')) as DemoClient;
  await seed({
    stateDir,
    fhirBaseUrl: env('FHIR_API_BASE_URL', 'http://localhost:8080/fhir'),
    databaseUrl: env('DATABASE_URL'),
    brokers: env('KAFKA_BROKERS').split(','),
    fhirSchema: env('FHIR_DB_SCHEMA', 'fhir_api'),
    platform,
    publishDirectory: values['publish-directory'] ?? false,
    loadFhirDirectory: values['load-fhir-directory'] ?? false,
    log,
  });
}

async function runCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      'state-dir': { type: 'string' },
      rate: { type: 'string', default: '2' },
      'no-bots': { type: 'boolean', default: false },
      'reject-share': { type: 'string' },
      'ignore-share': { type: 'string' },
      'poll-ms': { type: 'string' },
      'no-events': { type: 'boolean', default: false },
      'max-in-flight': { type: 'string', default: '32' },
      'delayed-consent-share': { type: 'string', default: '0.05' },
      duration: { type: 'string' },
    },
  });
  const stateDir = values['state-dir'] ?? '.carerelay/demo';
  const fhirBaseUrl = env('FHIR_API_BASE_URL', 'http://localhost:8080/fhir');
  const { clients } = readClientsFile(path.join(stateDir, 'clients.json'));
  const rate = Number(values.rate);
  if (!Number.isFinite(rate) || rate < 0) throw new Error('--rate must be a number >= 0');

  const ehrs = new Map(
    clients
      .filter((c) => c.role === 'ehr')
      .map((c) => [c.organizationId, fhirClientFor(c, fhirBaseUrl)] as const),
  );
  const generator = new ReferralGenerator(demoDirectory(), {
    hospitalIds: DEMO_HOSPITALS.map((h) => h.id).filter((id) => ehrs.has(id)),
    platformOrganizationId:
      process.env.PLATFORM_ORGANIZATION_ID ?? DEFAULT_PLATFORM_ORGANIZATION_ID,
    delayedConsentShare: Number(values['delayed-consent-share']),
  });
  // EHR_SERVERS (set by npm start): {"<hospital id>": {"baseUrl": "...", "mode": "push|pull"}}
  const servers = JSON.parse(process.env.EHR_SERVERS || '{}') as Record<
    string,
    { baseUrl: string; mode: 'push' | 'pull' }
  >;
  const routes = new Map(
    Object.entries(servers).map(([hospital, s]) => [
      hospital,
      { mode: s.mode, baseUrl: s.baseUrl, client: new FhirApiClient(s.baseUrl) },
    ]),
  );
  const simulator = new ReferralSimulator(
    generator,
    ehrs,
    { rate, maxInFlight: Number(values['max-in-flight']), consentDelayMs: 5000 },
    log,
    routes,
  );
  const brokers = process.env.KAFKA_BROKERS;
  const events = !values['no-events'] && Boolean(brokers);
  const bots = values['no-bots']
    ? undefined
    : new CboBots(
        clients
          .filter((c) => c.role === 'cbo')
          .map((c) => ({ organizationId: c.organizationId, fhir: fhirClientFor(c, fhirBaseUrl) })),
        {
          ...DEFAULT_BOT_OPTIONS,
          rejectShare: Number(values['reject-share'] ?? DEFAULT_BOT_OPTIONS.rejectShare),
          ignoreShare: Number(values['ignore-share'] ?? DEFAULT_BOT_OPTIONS.ignoreShare),
          pollMs: Number(
            values['poll-ms'] ?? (events ? EVENT_FED_POLL_MS : DEFAULT_BOT_OPTIONS.pollMs),
          ),
        },
        log,
      );

  // As a CBO system is notified of a Task addressed to it, rather than searching every 2 s.
  const bus =
    bots && events
      ? new KafkajsMessageBus({ brokers: brokers!.split(','), clientId: 'simulator' })
      : undefined;
  if (bots && bus) {
    await bus.subscribe({
      groupId: 'simulator-cbo-bots',
      topics: [TOPICS.referralEvents.name],
      fromBeginning: false,
      handle: async (message) => {
        let event;
        try {
          event = fromKafkaRecord(message);
        } catch {
          return; // not an event: nothing a CBO would be told
        }
        if (event.type !== ReferralEventTypes.routed.type) return;
        const routed = event.data as ReferralEventV1;
        if (routed.targetOrganizationId && routed.cboTaskId)
          bots.offer(routed.targetOrganizationId, routed.cboTaskId);
      },
    });
  }
  bots?.start();
  simulator.start();
  log(
    `simulator: ${rate} referrals/s from ${ehrs.size} hospitals (${[...ehrs.keys()].map((h) => `${h}: ${routes.get(h)?.mode ?? 'direct'}`).join(', ')}); ${bots ? `${clients.filter((c) => c.role === 'cbo').length} CBO bots` : 'no CBO bots'}`,
  );

  const report = () => ({ simulator: simulator.stats, bots: bots?.stats });
  const ipc = typeof process.send === 'function';
  const reporter = setInterval(
    () => {
      if (ipc) process.send!({ kind: 'stats', ...report() });
      else log(`stats ${JSON.stringify(report())}`);
    },
    ipc ? 1000 : 5000,
  );
  const stop = async () => {
    clearInterval(reporter);
    bots?.stop();
    await bus?.close();
    await simulator.stop();
    if (ipc) process.send!({ kind: 'stats', ...report() });
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  process.on('disconnect', () => void stop());
  if (values.duration) setTimeout(() => void stop(), Number(values.duration) * 1000);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === 'seed') {
    await seedCommand(rest);
    process.exit(0);
  }
  if (command === 'run' || command === undefined) return runCommand(rest);
  throw new Error(`unknown command ${command} (seed | run)`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`simulator: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
