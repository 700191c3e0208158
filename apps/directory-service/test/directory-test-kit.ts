import { INestApplication } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { TOPICS } from '@carerelay/contracts';
import { loadConfig } from '@carerelay/config';
import type { FhirApiClient } from '@carerelay/fhir-client';
import { dropSchema } from '@carerelay/persistence';
import {
  CollectedMessage,
  startGroupAtLatest,
  startTestTokenIssuer,
  type TestTokenIssuer,
  testEnv,
  testKafka,
  uniqueName,
} from '@carerelay/testing';
import { startDirectoryService } from '../src/bootstrap';
import { DirectoryServiceConfig } from '../src/directory-service.config';

export interface RunningDirectory {
  app: INestApplication;
  url: string;
  schema: string;
  /** ids of the events this instance wrote (its outbox), to tell them from other runs'. */
  ownEventIds: () => Promise<Set<string>>;
  stop: () => Promise<void>;
}

export async function startTestDirectory(
  env: Record<string, string> = {},
  options: {
    fhirClient?: FhirApiClient;
    groupId?: string;
    /** Another run of the service on an earlier one's schema (a restart). */
    schema?: string;
    /** Leave the schema when stopping (to restart on it). */
    keepSchema?: boolean;
  } = {},
): Promise<RunningDirectory> {
  const { KAFKA_BROKERS, DATABASE_URL } = testEnv();
  const schema = options.schema ?? uniqueName('directory_t').toLowerCase();
  // The service's API takes the platform's token: the kit signs its own (http() sends it).
  issuer ??= await startTestTokenIssuer();
  Object.assign(process.env, issuer.env);
  const app = await startDirectoryService(
    loadConfig(DirectoryServiceConfig, {
      KAFKA_BROKERS,
      DATABASE_URL,
      OUTBOX_POLL_MS: '50',
      LOG_LEVEL: 'warn',
      ...env,
    }),
    { schema, port: 0, fhirClient: options.fhirClient, groupId: options.groupId },
  );
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return {
    app,
    url,
    schema,
    ownEventIds: async () => {
      const rows: Array<{ id: string }> = await app
        .get(DataSource)
        .query(`SELECT id FROM "${schema}".outbox`);
      return new Set(rows.map((r) => r.id));
    },
    stop: async () => {
      await app.close();
      if (!options.keepSchema) await dropSchema(DATABASE_URL, schema);
    },
  };
}

/** Collects what is published on directory.events.v1 from now on (not earlier runs' events). */
export async function collectDirectoryEvents(): Promise<{
  messages: CollectedMessage[];
  stop: () => Promise<void>;
}> {
  const topic = TOPICS.directoryEvents.name;
  const groupId = uniqueName('directory-collector');
  await startGroupAtLatest(groupId, [topic]);
  const consumer = testKafka().consumer({ groupId });
  const messages: CollectedMessage[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [topic] });
  const joined = new Promise<void>((resolve) =>
    consumer.on(consumer.events.GROUP_JOIN, () => resolve()),
  );
  await consumer.run({
    eachMessage: async ({ topic: from, partition, message }) => {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(message.headers ?? {})) {
        if (value !== undefined) headers[name] = value.toString();
      }
      messages.push({
        topic: from,
        partition,
        offset: message.offset,
        key: message.key?.toString() ?? null,
        value: message.value?.toString() ?? null,
        headers,
      });
    },
  });
  await joined;
  return { messages, stop: () => consumer.disconnect() };
}

export interface HttpResult<T = unknown> {
  status: number;
  body: T;
}

/** The issuer of the tokens http() sends (one per test file, started by startTestDirectory). */
let issuer: TestTokenIssuer | undefined;

export const kitTokenIssuer = (): TestTokenIssuer => {
  if (!issuer) throw new Error('startTestDirectory first');
  return issuer;
};

/** A call to the directory's API as the platform, or with `headers` of the caller's choosing. */
export async function http<T = unknown>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers?: Record<string, string>,
): Promise<HttpResult<T>> {
  const auth = headers ?? (issuer ? await issuer.headers('platform') : {});
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? auth : { ...auth, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
