import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { decodeJwt, exportJWK, generateKeyPair } from 'jose';
import { DataSource } from 'typeorm';
import { ClientRevocationFeed } from '@carerelay/auth';
import { loadConfig } from '@carerelay/config';
import { SmartBackendTokenSource } from '@carerelay/fhir-client';
import { dropSchema } from '@carerelay/persistence';
import { managementUrlOf } from '@carerelay/service';
import { testEnv, uniqueName } from '@carerelay/testing';
import { startFhirApi, type RunningFhirApi } from '../../apps/fhir-api/src/bootstrap';
import { runCli } from '../../apps/fhir-api/src/auth/commands/clients.commands';
import { FhirApiConfig } from '../../apps/fhir-api/src/fhir-api.config';
import { startDirectoryService } from '../../apps/directory-service/src/bootstrap';
import { DirectoryServiceConfig } from '../../apps/directory-service/src/directory-service.config';

/**
 * Where the services' doors are, with the real FHIR API (tokens, client registry, CLI) and a
 * real service API (the directory-service) in this process:
 *  - health and metrics answer only on the operator's management listener, the API's port
 *    answers them 404 and the management port answers nothing else;
 *  - a caller without a token, or of a role the route refuses, is answered 401/403 before its
 *    body has even been sent: the service reads no byte of it;
 *  - a client disabled with `clients:disable` has its still-unexpired token refused by the
 *    service API within seconds (auth.clients.v1), not when the token expires.
 */
jest.setTimeout(180_000);

const env = () => ({
  ...testEnv(),
  LOG_LEVEL: 'silent',
  OUTBOX_POLL_MS: '50',
  NODE_ENV: 'test',
  MANAGEMENT_PORT: '0',
});
const fhirSchema = uniqueName('sec_bound_fhir').toLowerCase();
const directorySchema = uniqueName('sec_bound_dir').toLowerCase();
let fhir: RunningFhirApi;
let directory: INestApplication;
let directoryUrl: string;
let tmp: string;

const urlOf = async (app: INestApplication) =>
  (await app.getUrl()).replace('[::1]', '127.0.0.1').replace('localhost', '127.0.0.1');

/** The CLI's own command code on the FHIR API's database. */
async function cli(argv: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await runCli(argv, {
    baseUrl: fhir.baseUrl,
    dataSource: async () => fhir.app.get(DataSource),
    out: (t) => (out += t),
    err: () => undefined,
  });
  return { code, out };
}

/** A client registered with the CLI, and its token source. */
async function registerClient(role: 'cbo' | 'platform', org: string) {
  const { privateKey, publicKey } = await generateKeyPair('ES384', { extractable: true });
  const kid = `k-${randomUUID()}`;
  const file = path.join(tmp, `${kid}.json`);
  await writeFile(
    file,
    JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES384' }] }),
  );
  const added = await cli(['clients:add', '--org', org, '--role', role, '--jwks', file]);
  expect(added.code).toBe(0);
  const clientId = (JSON.parse(added.out) as { client_id: string }).client_id;
  const tokens = new SmartBackendTokenSource({
    tokenUrl: `${fhir.baseUrl}/auth/token`,
    clientId,
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'ES384' },
    alg: 'ES384',
    scope: 'system/*.rs',
  });
  return { clientId, token: () => tokens.token() };
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'sec-bound-'));
  fhir = await startFhirApi(
    loadConfig(FhirApiConfig, {
      ...env(),
      FHIR_API_PORT: '0',
      FHIR_BASE_URL: 'http://127.0.0.1:8080/fhir',
      FHIR_DB_SCHEMA: fhirSchema,
    }),
  );
  // The service verifies the FHIR API's tokens against its published keys (libs/auth reads
  // these from the environment, as a started service does).
  Object.assign(process.env, { FHIR_BASE_URL: fhir.baseUrl, PLATFORM_ORGANIZATION_ID: 'sec-ops' });
  directory = await startDirectoryService(
    loadConfig(DirectoryServiceConfig, { ...env(), DIRECTORY_DB_SCHEMA: directorySchema }),
    { schema: directorySchema, port: 0 },
  );
  directoryUrl = await urlOf(directory);
});

afterAll(async () => {
  await directory?.close();
  await fhir?.close();
  await dropSchema(testEnv().DATABASE_URL, directorySchema).catch(() => undefined);
  await dropSchema(testEnv().DATABASE_URL, fhirSchema).catch(() => undefined);
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('health and metrics on the management listener only', () => {
  it('answers them on the management port and 404 on the API port, for the FHIR API and a service', async () => {
    const apps = [
      {
        name: 'fhir-api',
        app: fhir.app,
        api: new URL(fhir.baseUrl).origin,
        other: '/fhir/metadata',
      },
      { name: 'directory-service', app: directory, api: directoryUrl, other: '/organizations' },
    ];
    const wrong: string[] = [];
    for (const { name, app, api, other } of apps) {
      const management = managementUrlOf(app);
      expect({ name, management }).toEqual({ name, management: expect.stringMatching(/^http:/) });
      expect(management).not.toBe(api);
      for (const route of ['/health/live', '/health/ready', '/metrics']) {
        const there = await fetch(`${management}${route}`);
        if (there.status !== 200) wrong.push(`${name} management ${route}: ${there.status}`);
        const onApi = await fetch(`${api}${route}`);
        if (onApi.status !== 404) wrong.push(`${name} API port ${route}: ${onApi.status}`);
      }
      // The management port serves nothing else, whatever the caller holds.
      const elsewhere = await fetch(`${management}${other}`);
      if (elsewhere.status !== 404) wrong.push(`${name} management ${other}: ${elsewhere.status}`);
    }
    expect(wrong).toEqual([]);
    expect(await (await fetch(`${managementUrlOf(directory)}/metrics`)).text()).toMatch(
      /process_cpu_user_seconds_total/,
    );
  });
});

/**
 * Sends the headers and the first 64 KB of a body of `declared` bytes, never the rest, and
 * waits for an answer: a service that reads the body first never answers.
 */
function partialUpload(
  url: string,
  declared: number,
  authorization?: string,
  waitMs = 5_000,
): Promise<{ status: number; type?: string; answeredMs: number } | 'no answer'> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const request = httpRequest(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': String(declared),
        ...(authorization ? { authorization } : {}),
      },
    });
    const timer = setTimeout(() => {
      request.destroy();
      resolve('no answer');
    }, waitMs);
    request.on('response', (response) => {
      clearTimeout(timer);
      response.resume();
      resolve({
        status: response.statusCode ?? 0,
        type: response.headers['content-type'],
        answeredMs: Date.now() - started,
      });
      request.destroy();
    });
    request.on('error', (error) => {
      clearTimeout(timer);
      if ((error as NodeJS.ErrnoException).code === 'ECONNRESET') resolve('no answer');
      else reject(error);
    });
    request.write(`{"organizations":[${' '.repeat(64 * 1024)}`);
  });
}

describe('a refused caller is answered before its body is read', () => {
  const importUrl = () => `${directoryUrl}/import/hsds`;

  it('answers 401 to an unauthenticated upload that is still being sent', async () => {
    const answer = await partialUpload(importUrl(), 4 * 1024 * 1024);
    expect(answer).toEqual(
      expect.objectContaining({ status: 401, type: expect.stringMatching(/problem\+json/) }),
    );
  });

  it('answers 401, not 413, to an unauthenticated 15 MB upload (its size never looked at)', async () => {
    const answer = await partialUpload(importUrl(), 15 * 1024 * 1024);
    expect(answer).toEqual(expect.objectContaining({ status: 401 }));
  });

  it("answers 403 to a real token of a role the route refuses, before the body's end", async () => {
    const cbo = await registerClient('cbo', 'sec-cbo');
    const answer = await partialUpload(importUrl(), 4 * 1024 * 1024, `Bearer ${await cbo.token()}`);
    expect(answer).toEqual(expect.objectContaining({ status: 403 }));
  });

  it('waits for the body of a caller the route admits (what the refusals are compared with)', async () => {
    const platform = await registerClient('platform', 'sec-ops');
    const answer = await partialUpload(
      importUrl(),
      4 * 1024 * 1024,
      `Bearer ${await platform.token()}`,
      1_500,
    );
    expect(answer).toBe('no answer');
  });
});

describe('a disabled client', () => {
  it('has its unexpired token refused by the service API within seconds of clients:disable', async () => {
    await directory.get(ClientRevocationFeed).ready();
    const cbo = await registerClient('cbo', 'sec-cbo-disabled');
    const token = await cbo.token();
    const read = () =>
      fetch(`${directoryUrl}/organizations`, { headers: { authorization: `Bearer ${token}` } });
    expect((await read()).status).toBe(200);

    expect((await cli(['clients:disable', cbo.clientId])).code).toBe(0);
    const disabled = Date.now();
    let answer = await read();
    while (answer.status === 200 && Date.now() - disabled < 15_000) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      answer = await read();
    }
    const refusedAfterMs = Date.now() - disabled;
    process.stderr.write(`disabled client's token refused after ${refusedAfterMs} ms\n`);
    expect(answer.status).toBe(401);
    expect(((await answer.json()) as { detail: string }).detail).toBe(
      'The access token has been revoked',
    );
    expect(refusedAfterMs).toBeLessThan(10_000);
    // Still a token the service would otherwise take: it has minutes left.
    expect(decodeJwt(token).exp! * 1000 - Date.now()).toBeGreaterThan(60_000);
  });
});
