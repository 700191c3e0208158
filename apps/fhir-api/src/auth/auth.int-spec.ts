// SMART Backend Services end to end against the real database: a minimal Nest app with AuthModule
// on a random port, clients registered through the CLI's own command code, tokens obtained over
// real HTTP with real RS384 and ES384 keys made by jose, a FHIR read through fhir-kit-client, and
// the audit trail searched by a coordinator.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  Controller,
  Get,
  Global,
  INestApplication,
  Inject,
  Module,
  Param,
  Req,
} from '@nestjs/common';
import { APP_FILTER, NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { decodeJwt, exportJWK, generateKeyPair, type JWK, type KeyLike, SignJWT } from 'jose';
import { DataSource } from 'typeorm';
import { MessagingTables1732300000000 } from '@carerelay/messaging';
import { openTestDataSource } from '@carerelay/testing';
import { runCli } from './commands/clients.commands';
import { notFound } from '@carerelay/fhir';
import { FhirExceptionFilter } from '../http/fhir-exception.filter';
import { actorOf, type RequestWithActor } from '../request-actor';
import { AUDIT_MIGRATIONS } from '../audit/migrations';
import { AuditService } from '../audit/audit.service';
import { AccessTokens } from './access-token';
import { assertScope } from './assert-scope';
import { AuthModule } from './auth.module';
import { AUTH_MIGRATIONS } from './migrations';
import { databaseSigningKey } from './signing-key';
import { CLIENT_ASSERTION_TYPE } from './token-request';

jest.setTimeout(60_000);

interface Key {
  alg: 'RS384' | 'ES384';
  kid: string;
  privateKey: KeyLike;
  publicJwk: JWK;
  privateJwk: JWK;
}

async function makeKey(alg: Key['alg']): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `${alg.toLowerCase()}-${randomUUID()}`;
  return {
    alg,
    kid,
    privateKey,
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' },
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg },
  };
}

/** The store's routes, reduced to what these tests need: a read of patient data, audited. */
@Controller('fhir')
class ProbeController {
  constructor(@Inject(AuditService) private readonly audit: AuditService) {}

  @Get('metadata')
  metadata(): unknown {
    return {
      resourceType: 'CapabilityStatement',
      status: 'active',
      kind: 'instance',
      fhirVersion: '4.0.1',
      format: ['json'],
      rest: [
        {
          mode: 'server',
          security: {
            extension: [
              {
                url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
                extension: [{ url: 'token', valueUri: `${base.url}/auth/token` }],
              },
            ],
          },
        },
      ],
    };
  }

  @Get('Patient/:id')
  async readPatient(@Req() req: RequestWithActor, @Param('id') id: string): Promise<unknown> {
    const actor = actorOf(req);
    return this.audit.around(
      { actor, subtype: 'read', resourceType: 'Patient', ids: [id] },
      async () => {
        assertScope(actor, 'Patient', 'read');
        if (id === 'missing') throw notFound('Patient/missing is not known');
        return {
          resourceType: 'Patient',
          id,
          meta: { tag: [{ code: actor.role, display: actor.organizationId }] },
        };
      },
    );
  }

  /** Stands in for the store's generic `/fhir/:type` route: must not shadow /fhir/AuditEvent. */
  @Get(':type')
  generic(@Param('type') type: string): unknown {
    return { resourceType: 'Bundle', type: 'searchset', id: `generic-${type}` };
  }
}

const base = { url: 'http://127.0.0.1:0/fhir' };
let dataSource: DataSource;
let db: { dataSource: DataSource; schema: string; drop: () => Promise<void> };

@Global()
@Module({
  providers: [{ provide: DataSource, useFactory: () => dataSource }],
  exports: [DataSource],
})
class TestDatabaseModule {}

/**
 * Nest registers routes module by module, the root module's first, then its imports in order:
 * the FHIR routes (with their generic `/fhir/:type`) must live in a module imported AFTER
 * AuthModule, or they shadow /fhir/AuditEvent and /fhir/.well-known/smart-configuration.
 */
@Module({ controllers: [ProbeController] })
class ProbeRoutesModule {}

@Module({
  imports: [
    TestDatabaseModule,
    AuthModule.forRoot({ baseUrl: () => base.url, env: {} }),
    ProbeRoutesModule,
  ],
  providers: [{ provide: APP_FILTER, useClass: FhirExceptionFilter }],
})
class TestAppModule {}

let app: INestApplication;
let tmp: string;
let rsKey: Key;
let esKey: Key;
let coordinatorKey: Key;
const clients: Record<'ehr' | 'cbo' | 'coordinator', string> = {
  ehr: '',
  cbo: '',
  coordinator: '',
};

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, {
    baseUrl: base.url,
    dataSource: async () => dataSource,
    out: (t) => (out += t),
    err: (t) => (err += t),
  });
  return { code, out, err };
}

async function register(
  role: 'ehr' | 'cbo' | 'coordinator',
  org: string,
  key: Key,
): Promise<string> {
  const file = path.join(tmp, `${role}-${randomUUID()}.json`);
  await writeFile(file, JSON.stringify({ keys: [key.publicJwk] }));
  const { code, out, err } = await cli([
    'clients:add',
    '--org',
    org,
    '--role',
    role,
    '--jwks',
    file,
  ]);
  expect({ code, err }).toEqual({ code: 0, err: '' });
  const printed = JSON.parse(out);
  expect(printed).toEqual({
    client_id: expect.stringMatching(/^crc_/),
    organization: org,
    role,
    token_url: `${base.url}/auth/token`,
  });
  return printed.client_id;
}

function assertion(
  key: Key,
  clientId: string,
  claims: { aud?: string; jti?: string; exp?: number } = {},
) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(claims.aud ?? `${base.url}/auth/token`)
    .setExpirationTime(claims.exp ?? now + 240)
    .setJti(claims.jti ?? randomUUID())
    .sign(key.privateKey);
}

async function tokenRequest(clientAssertion: string, scope: string): Promise<Response> {
  return fetch(`${base.url}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      scope,
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: clientAssertion,
    }),
  });
}

async function token(key: Key, clientId: string, scope: string): Promise<string> {
  const res = await tokenRequest(await assertion(key, clientId), scope);
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

const get = (url: string, accessToken?: string) =>
  fetch(url, { headers: accessToken ? { authorization: `Bearer ${accessToken}` } : {} });

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'carerelay-auth-'));
  db = await openTestDataSource('auth', {
    entities: [],
    migrations: [MessagingTables1732300000000, ...AUTH_MIGRATIONS, ...AUDIT_MIGRATIONS],
  });
  dataSource = db.dataSource;
  app = await NestFactory.create<NestExpressApplication>(TestAppModule, {
    bodyParser: false,
    logger: false,
  });
  await app.listen(0, '127.0.0.1');
  base.url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}/fhir`;
  [rsKey, esKey, coordinatorKey] = await Promise.all([
    makeKey('RS384'),
    makeKey('ES384'),
    makeKey('ES384'),
  ]);
  clients.ehr = await register('ehr', 'hospital-a', rsKey);
  clients.cbo = await register('cbo', 'foodbank-b', esKey);
  clients.coordinator = await register('coordinator', 'health-dept', coordinatorKey);
});

afterAll(async () => {
  await app?.close();
  await db?.drop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('SMART Backend Services', () => {
  it('publishes the SMART configuration without a token', async () => {
    const res = await get(`${base.url}/.well-known/smart-configuration`);
    expect(res.status).toBe(200);
    const config = (await res.json()) as Record<string, unknown>;
    expect(config).toMatchObject({
      token_endpoint: `${base.url}/auth/token`,
      token_endpoint_auth_methods_supported: ['private_key_jwt'],
      token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
      grant_types_supported: ['client_credentials'],
    });
    expect(config.capabilities).toEqual(
      expect.arrayContaining(['client-confidential-asymmetric', 'permission-v1', 'permission-v2']),
    );
    expect(config.scopes_supported).toEqual(
      expect.arrayContaining(['system/*.rs', 'system/Task.cruds']),
    );
  });

  it('serves metadata without a token, and nothing else', async () => {
    expect((await get(`${base.url}/metadata`)).status).toBe(200);
    const res = await get(`${base.url}/Patient/1`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm=/);
    expect(res.headers.get('content-type')).toMatch(/application\/fhir\+json/);
    const outcome = (await res.json()) as { resourceType: string; issue: { code: string }[] };
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue[0].code).toBe('login');
    expect((await get(`${base.url}/Task`)).status).toBe(401);
    expect((await get(`${base.url}/AuditEvent`)).status).toBe(401);
  });

  it('refuses a malformed or forged token with 401 invalid_token', async () => {
    for (const bad of [
      'not-a-jwt',
      `${(await token(rsKey, clients.ehr, 'system/Patient.rs')).slice(0, -4)}AAAA`,
    ]) {
      const res = await get(`${base.url}/Patient/1`, bad);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    }
    const basic = await fetch(`${base.url}/Patient/1`, {
      headers: { authorization: 'Basic eDp5' },
    });
    expect(basic.status).toBe(401);
  });

  it('issues an RS384 client a bearer token of at most 300 s, narrowed to its role', async () => {
    const res = await tokenRequest(
      await assertion(rsKey, clients.ehr),
      'system/Patient.rs system/AuditEvent.rs',
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as {
      access_token: string;
      token_type: string;
      expires_in: number;
      scope: string;
    };
    expect(body.token_type).toBe('bearer');
    expect(body.expires_in).toBeLessThanOrEqual(300);
    expect(body.scope).toBe('system/Patient.rs');
    const claims = decodeJwt(body.access_token);
    expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(300);
    expect(claims.exp! * 1000).toBeLessThanOrEqual(Date.now() + 301_000);

    const read = await get(`${base.url}/Patient/p1`, body.access_token);
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({
      id: 'p1',
      meta: { tag: [{ code: 'ehr', display: 'hospital-a' }] },
    });
  });

  it('issues an ES384 client its token; scopes are enforced per interaction (403 OperationOutcome)', async () => {
    const res = await tokenRequest(await assertion(esKey, clients.cbo), 'system/Task.cruds');
    const body = (await res.json()) as { access_token: string; scope: string };
    expect(body.scope).toBe('system/Task.rus');
    const read = await get(`${base.url}/Patient/p1`, body.access_token);
    expect(read.status).toBe(403);
    const outcome = (await read.json()) as { issue: { code: string; diagnostics: string }[] };
    expect(outcome.issue[0].code).toBe('forbidden');
    expect(outcome.issue[0].diagnostics).toMatch(/system\/Patient\.r/);
  });

  it('rejects a replayed jti, even when the replays race', async () => {
    const once = await assertion(rsKey, clients.ehr);
    expect((await tokenRequest(once, 'system/Patient.rs')).status).toBe(200);
    const replay = await tokenRequest(once, 'system/Patient.rs');
    expect(replay.status).toBe(400);
    expect(await replay.json()).toEqual({
      error: 'invalid_client',
      error_description: expect.stringMatching(/jti/),
    });

    const racing = await assertion(esKey, clients.cbo);
    const statuses = await Promise.all(
      Array.from({ length: 10 }, async () => (await tokenRequest(racing, 'system/Task.rs')).status),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 400)).toHaveLength(9);
  });

  it('rejects a wrong audience, an exp too far ahead, an unknown client, a non-form body', async () => {
    const wrongAud = await tokenRequest(
      await assertion(rsKey, clients.ehr, { aud: `${base.url}/token` }),
      'system/Patient.rs',
    );
    expect(wrongAud.status).toBe(400);
    expect(((await wrongAud.json()) as { error_description: string }).error_description).toMatch(
      /aud/,
    );
    const far = await tokenRequest(
      await assertion(rsKey, clients.ehr, { exp: Math.floor(Date.now() / 1000) + 900 }),
      'system/Patient.rs',
    );
    expect(far.status).toBe(400);
    const unknown = await tokenRequest(await assertion(rsKey, 'crc_nobody'), 'system/Patient.rs');
    expect(await unknown.json()).toEqual({
      error: 'invalid_client',
      error_description: 'client authentication failed',
    });
    const json = await fetch(`${base.url}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'client_credentials' }),
    });
    expect(json.status).toBe(400);
    expect(((await json.json()) as { error: string }).error).toBe('invalid_request');
  });

  it('refuses an expired access token (signed with the key shared through the database)', async () => {
    const key = await databaseSigningKey(dataSource, db.schema);
    const past = new AccessTokens(key, base.url, 60, () => Date.now() - 120_000);
    const { accessToken } = await past.issue({
      clientId: clients.ehr,
      organizationId: 'hospital-a',
      role: 'ehr',
      scopes: ['system/Patient.rs'],
    });
    const res = await get(`${base.url}/Patient/p1`, accessToken);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token".*expired/);
    // the same key, not expired: accepted (any process sharing the database can verify)
    const fresh = await new AccessTokens(key, base.url).issue({
      clientId: clients.ehr,
      organizationId: 'hospital-a',
      role: 'ehr',
      scopes: ['system/Patient.rs'],
    });
    expect((await get(`${base.url}/Patient/p1`, fresh.accessToken)).status).toBe(200);
    expect(app.get(AccessTokens).ttlSeconds).toBe(300);
  });

  it('stops a disabled client: no new token, current tokens refused', async () => {
    const key = await makeKey('ES384');
    const clientId = await register('cbo', 'foodbank-z', key);
    const current = await token(key, clientId, 'system/Patient.rs');
    expect((await cli(['clients:disable', clientId])).code).toBe(0);
    expect((await get(`${base.url}/Patient/p1`, current)).status).toBe(401);
    const res = await tokenRequest(await assertion(key, clientId), 'system/Patient.rs');
    expect(await res.json()).toEqual({
      error: 'invalid_client',
      error_description: 'client is disabled',
    });
    const listed = JSON.parse((await cli(['clients:list'])).out) as {
      client_id: string;
      active: boolean;
    }[];
    expect(listed.find((c) => c.client_id === clientId)?.active).toBe(false);
  });

  it('works with fhir-kit-client: SMART discovery, token, bearer read', async () => {
    const script = `
      import { Client } from 'fhir-kit-client';
      import { SignJWT, importJWK } from 'jose';
      import { randomUUID } from 'node:crypto';
      const { BASE, CLIENT_ID, JWK } = process.env;
      const jwk = JSON.parse(JWK);
      const client = new Client({ baseUrl: BASE });
      const { tokenUrl } = await client.smartAuthMetadata();
      let denied;
      try { await client.read({ resourceType: 'Patient', id: 'p7' }); } catch (e) { denied = e.response?.status; }
      const assertion = await new SignJWT({})
        .setProtectedHeader({ alg: jwk.alg, kid: jwk.kid, typ: 'JWT' })
        .setIssuer(CLIENT_ID).setSubject(CLIENT_ID).setAudience(String(tokenUrl))
        .setExpirationTime('4m').setJti(randomUUID())
        .sign(await importJWK(jwk, jwk.alg));
      const res = await fetch(tokenUrl, { method: 'POST', body: new URLSearchParams({
        grant_type: 'client_credentials', scope: 'system/Patient.read',
        client_assertion_type: '${CLIENT_ASSERTION_TYPE}', client_assertion: assertion }) });
      const token = await res.json();
      client.bearerToken = token.access_token;
      const patient = await client.read({ resourceType: 'Patient', id: 'p7' });
      console.log(JSON.stringify({ tokenUrl: String(tokenUrl), denied, scope: token.scope, patient }));
    `;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--input-type=module', '-e', script],
      {
        cwd: process.cwd(),
        env: {
          ...process.env,
          BASE: base.url,
          CLIENT_ID: clients.ehr,
          JWK: JSON.stringify(rsKey.privateJwk),
        },
      },
    );
    const result = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(result.tokenUrl).toBe(`${base.url}/auth/token`);
    expect(result.denied).toBe(401);
    expect(result.scope).toBe('system/Patient.read');
    expect(result.patient).toMatchObject({ resourceType: 'Patient', id: 'p7' });
  });
});

describe('audit trail', () => {
  it('audits reads, failed ones too, and lets only coordinators search them', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const ehrToken = await token(rsKey, clients.ehr, 'system/Patient.rs');
    expect((await get(`${base.url}/Patient/audited-1`, ehrToken)).status).toBe(200);
    expect((await get(`${base.url}/Patient/missing`, ehrToken)).status).toBe(404);
    const cboToken = await token(esKey, clients.cbo, 'system/Task.rs');
    expect((await get(`${base.url}/Patient/audited-1`, cboToken)).status).toBe(403);

    const coordinator = await token(coordinatorKey, clients.coordinator, 'system/*.rs');
    const search = async (query: string) => {
      const res = await get(`${base.url}/AuditEvent?${query}`, coordinator);
      expect(res.status).toBe(200);
      return (await res.json()) as {
        resourceType: string;
        type: string;
        total: number;
        entry?: {
          resource: {
            outcome: string;
            agent: { who: { reference?: string } }[];
            entity?: unknown[];
          };
        }[];
      };
    };
    const mine = await search(
      `agent=Organization/hospital-a&entity=Patient/audited-1&date=ge${encodeURIComponent(since)}`,
    );
    expect(mine.resourceType).toBe('Bundle');
    expect(mine.type).toBe('searchset');
    expect(mine.total).toBe(1);
    expect(mine.entry![0].resource.outcome).toBe('0');
    expect(mine.entry![0].resource.agent[1].who.reference).toBe('Organization/hospital-a');

    const failed = await search(`entity=Patient/missing&outcome=4`);
    expect(failed.total).toBe(1);
    const refused = await search(`agent=${clients.cbo}&entity=Patient/audited-1`);
    expect(refused.total).toBe(1);
    expect(refused.entry![0].resource.outcome).toBe('4');

    for (const t of [ehrToken, await token(esKey, clients.cbo, 'system/*.rs')]) {
      const res = await get(`${base.url}/AuditEvent?agent=Organization/hospital-a`, t);
      expect(res.status).toBe(403);
    }
    expect((await get(`${base.url}/AuditEvent?patient=x`, coordinator)).status).toBe(400);
  });
});
