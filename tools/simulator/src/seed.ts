import { mkdirSync, existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import {
  EventTypes,
  eventRegistry,
  newCloudEvent,
  toKafkaRecord,
  type DirectoryEventV1,
  type EventTypeDefinition,
} from '@carerelay/contracts';
import { toFhirDirectoryBundle } from '@carerelay/directory';
import { openServiceDataSource } from '@carerelay/persistence';
import type { DataSource } from 'typeorm';
import { runCli } from '../../../apps/fhir-api/src/auth/commands/clients.commands';
import { fhirApiMigrations } from '../../../apps/fhir-api/src/auth/commands/fhir-api.migrations';
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
 *     sample directory, registered with the CLI's own code (`clients:add`) in one process and
 *     kept in <state>/clients.json with their keys (reused on the next start when still active);
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

export async function registerDemoClients(options: SeedOptions): Promise<DemoClientsFile> {
  const file = path.join(options.stateDir, 'clients.json');
  const keysDir = path.join(options.stateDir, 'jwks');
  mkdirSync(keysDir, { recursive: true });
  const previous = existsSync(file) ? readClientsFile(file).clients : [];
  let dataSource: DataSource | undefined;
  try {
    dataSource = await openServiceDataSource({
      url: options.databaseUrl,
      schema: options.fhirSchema,
      entities: [],
      migrations: fhirApiMigrations(),
      poolSize: 2,
      applicationName: 'carerelay-demo-seed',
    });
    const ds = dataSource;
    const cli = async (argv: string[]): Promise<string> => {
      let out = '';
      let err = '';
      const code = await runCli(argv, {
        baseUrl: options.fhirBaseUrl,
        out: (text) => (out += text),
        err: (text) => (err += text),
        dataSource: async () => ds,
      });
      if (code !== 0) throw new Error(`cli ${argv[0]} failed (${code}): ${err.trim()}`);
      return out;
    };
    const active = new Set(
      (JSON.parse(await cli(['clients:list'])) as Array<{ client_id: string; active: boolean }>)
        .filter((c) => c.active)
        .map((c) => c.client_id),
    );
    const clients: DemoClient[] = [];
    let registered = 0;
    for (const org of demoOrganizations()) {
      const kept = previous.find(
        (c) => c.organizationId === org.id && c.role === org.role && active.has(c.clientId),
      );
      if (kept) {
        clients.push(kept);
        continue;
      }
      const keys = await newKeyPair(`${org.id}-${Date.now().toString(36)}`);
      const jwksFile = path.join(keysDir, `${org.id}.jwks.json`);
      writeFileSync(jwksFile, `${JSON.stringify(keys.publicJwks, null, 2)}\n`);
      const added = JSON.parse(
        await cli(['clients:add', '--org', org.id, '--role', org.role, '--jwks', jwksFile]),
      ) as { client_id: string };
      registered += 1;
      clients.push({
        clientId: added.client_id,
        organizationId: org.id,
        name: org.name,
        role: org.role,
        alg: 'ES384',
        privateJwk: keys.privateJwk,
        publicJwks: keys.publicJwks,
      });
    }
    const result: DemoClientsFile = {
      fhirBaseUrl: options.fhirBaseUrl,
      tokenUrl: tokenUrlOf(options.fhirBaseUrl),
      clients,
    };
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`, { mode: 0o600 });
    options.log(
      `demo clients: ${clients.length} (${registered} newly registered, ${clients.length - registered} reused) -> ${file}`,
    );
    return result;
  } finally {
    if (dataSource?.isInitialized) await dataSource.destroy();
  }
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
  const kafka = new Kafka({
    clientId: 'carerelay-demo-seed',
    brokers: options.brokers,
    logLevel: logLevel.NOTHING,
  });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    const messages = events.map(({ type, data }) => {
      eventRegistry.validate(type.type, data);
      const event = newCloudEvent({
        source: 'carerelay/demo-seed',
        type: type.type,
        subject: data.organizationId,
        data,
      });
      const record = toKafkaRecord(event, type.keyOf(data));
      return { key: record.key, value: record.value, headers: record.headers };
    });
    await producer.send({ topic: EventTypes.directoryServiceUpserted.topic, acks: -1, messages });
  } finally {
    await producer.disconnect();
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
