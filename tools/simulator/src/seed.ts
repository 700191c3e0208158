import { mkdirSync, existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import {
  EventTypes,
  eventRegistry,
  newCloudEvent,
  toKafkaRecord,
  type DirectoryEventV1,
  type EventTypeDefinition,
} from '@carerelay/contracts';
import { toFhirDirectoryBundle } from '@carerelay/directory';
import { KafkajsMessageBus } from '@carerelay/messaging';
import {
  DemoClient,
  DemoClientsFile,
  fhirClientFor,
  newKeyPair,
  readClientsFile,
  tokenUrlOf,
} from './credentials';
import { DEMO_COORDINATOR, DEMO_HOSPITALS, demoDirectory, demoOrganizations } from './demo-network';

/**
 * Seeds the demo network once the apps answer:
 *  1. a SMART client (ES384 key pair) for every hospital, the coordinator and every CBO of the
 *     sample directory, registered through the CLI (`npm run cli -- clients:add-batch`, one run)
 *     and kept in <state>/clients.json with their keys (reused on the next start when still active);
 *  2. the sample directory on directory.events.v1 (what the directory-service does, until it
 *     exists) so that the referral-service can route;
 *  3. the directory and the demo's own organizations as FHIR resources in the FHIR API.
 */

export interface SeedOptions {
  stateDir: string;
  fhirBaseUrl: string;
  databaseUrl: string;
  brokers: string[];
  fhirSchema: string;
  platform: DemoClient;
  publishDirectory: boolean;
  loadFhirDirectory: boolean;
  log: (line: string) => void;
}

/**
 * Runs `npm run cli -- <argv>` (infra/bin/cli.mjs, the CLI's public face) against the network's
 * database, and returns its stdout.
 */
function runCli(argv: string[], options: SeedOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [path.join(process.cwd(), 'infra', 'bin', 'cli.mjs'), ...argv],
      {
        env: {
          ...process.env,
          DATABASE_URL: options.databaseUrl,
          FHIR_BASE_URL: options.fhirBaseUrl,
          FHIR_DB_SCHEMA: options.fhirSchema,
        },
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`cli ${argv[0]} failed (${child.exitCode}): ${stderr.trim()}`));
        else resolve(stdout);
      },
    );
  });
}

export async function registerDemoClients(options: SeedOptions): Promise<DemoClientsFile> {
  const file = path.join(options.stateDir, 'clients.json');
  const keysDir = path.join(options.stateDir, 'jwks');
  mkdirSync(keysDir, { recursive: true });
  const previous = existsSync(file) ? readClientsFile(file).clients : [];
  const active = new Set(
    (
      JSON.parse(await runCli(['clients:list'], options)) as Array<{
        client_id: string;
        active: boolean;
      }>
    )
      .filter((c) => c.active)
      .map((c) => c.client_id),
  );
  const clients: DemoClient[] = [];
  const pending: Array<{
    org: ReturnType<typeof demoOrganizations>[number];
    keys: Awaited<ReturnType<typeof newKeyPair>>;
  }> = [];
  for (const org of demoOrganizations()) {
    const kept = previous.find(
      (c) => c.organizationId === org.id && c.role === org.role && active.has(c.clientId),
    );
    if (kept) {
      clients.push(kept);
      continue;
    }
    const keys = await newKeyPair(`${org.id}-${Date.now().toString(36)}`);
    writeFileSync(
      path.join(keysDir, `${org.id}.jwks.json`),
      `${JSON.stringify(keys.publicJwks, null, 2)}\n`,
    );
    pending.push({ org, keys });
  }
  if (pending.length > 0) {
    // One CLI run for all of them: the batch is the same registration as clients:add, in order.
    const batchFile = path.join(keysDir, 'batch.json');
    writeFileSync(
      batchFile,
      JSON.stringify(
        pending.map(({ org, keys }) => ({ org: org.id, role: org.role, jwks: keys.publicJwks })),
      ),
    );
    const added = JSON.parse(
      await runCli(['clients:add-batch', '--file', batchFile], options),
    ) as Array<{ client_id: string }>;
    pending.forEach(({ org, keys }, i) =>
      clients.push({
        clientId: added[i].client_id,
        organizationId: org.id,
        name: org.name,
        role: org.role,
        alg: 'ES384',
        privateJwk: keys.privateJwk,
        publicJwks: keys.publicJwks,
      }),
    );
  }
  const result: DemoClientsFile = {
    fhirBaseUrl: options.fhirBaseUrl,
    tokenUrl: tokenUrlOf(options.fhirBaseUrl),
    clients,
  };
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`, { mode: 0o600 });
  options.log(
    `demo clients: ${clients.length} (${pending.length} newly registered, ${clients.length - pending.length} reused) -> ${file}`,
  );
  return result;
}

/** The sample directory as directory.events.v1 events (organizations, locations, services). */
export async function publishDirectory(options: SeedOptions): Promise<number> {
  const directory = demoDirectory();
  const occurredAt = new Date().toISOString();
  const events: Array<{ type: EventTypeDefinition<DirectoryEventV1>; data: DirectoryEventV1 }> = [];
  for (const org of directory.organizations) {
    events.push({
      type: EventTypes.directoryOrganizationUpserted,
      data: { organizationId: org.id, occurredAt, record: { ...org } },
    });
  }
  for (const location of directory.locations) {
    events.push({
      type: EventTypes.directoryLocationUpserted,
      data: { organizationId: location.organizationId, occurredAt, record: { ...location } },
    });
  }
  for (const service of directory.services) {
    events.push({
      type: EventTypes.directoryServiceUpserted,
      data: {
        organizationId: service.organizationId,
        serviceId: service.id,
        occurredAt,
        record: { ...service } as unknown as Record<string, unknown>,
      },
    });
  }
  const bus = new KafkajsMessageBus({
    clientId: 'carerelay-demo-seed',
    brokers: options.brokers,
  });
  try {
    const records = events.map(({ type, data }) => {
      eventRegistry.validate(type.type, data);
      const event = newCloudEvent({
        source: 'carerelay/demo-seed',
        type: type.type,
        subject: data.organizationId,
        data,
      });
      return { topic: type.topic, ...toKafkaRecord(event, type.keyOf(data)) };
    });
    await bus.publish(records);
  } finally {
    await bus.close();
  }
  options.log(
    `directory: ${directory.organizations.length} organizations, ${directory.locations.length} locations, ${directory.services.length} services published on ${EventTypes.directoryServiceUpserted.topic}`,
  );
  return events.length;
}

/** The directory and the demo's own organizations as FHIR resources (idempotent PUTs). */
export async function loadFhirDirectory(options: SeedOptions): Promise<void> {
  const fhir = fhirClientFor(options.platform, options.fhirBaseUrl);
  const own = [
    { id: options.platform.organizationId, name: 'CareRelay Coordination Platform' },
    ...DEMO_HOSPITALS,
    DEMO_COORDINATOR,
  ].map((o) => ({
    resource: { resourceType: 'Organization', id: o.id, active: true, name: o.name },
    request: { method: 'PUT', url: `Organization/${o.id}` },
  }));
  // The FHIR API serves Organization, Location and HealthcareService (not OrganizationAffiliation).
  const served = new Set(['Organization', 'Location', 'HealthcareService']);
  const directoryEntries = (toFhirDirectoryBundle(demoDirectory()).entry ?? []).filter((e) =>
    served.has(e.resource?.resourceType ?? ''),
  );
  const entries = [...own, ...directoryEntries];
  const chunk = 200;
  for (let i = 0; i < entries.length; i += chunk) {
    await fhir.transaction({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: entries.slice(i, i + chunk),
    });
  }
  options.log(`FHIR directory: ${entries.length} resources loaded into ${options.fhirBaseUrl}`);
}

export async function seed(options: SeedOptions): Promise<DemoClientsFile> {
  const clients = await registerDemoClients(options);
  if (options.publishDirectory) await publishDirectory(options);
  if (options.loadFhirDirectory) {
    try {
      await loadFhirDirectory(options);
    } catch (error) {
      options.log(`FHIR directory not loaded: ${(error as Error).message}`);
    }
  }
  return clients;
}
