// The platform's own SMART client, registered with the CLI, the network's secrets, the web app's
// clients, and the platform's access tokens.
/* global AbortSignal, URLSearchParams */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { ROOT } from '../common.mjs';
import { PLATFORM_ORGANIZATION_ID } from './apps.mjs';

async function runCliJson(args, env) {
  const child = spawn(process.execPath, ['infra/bin/cli.mjs', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`npm run cli -- ${args.join(' ')}: exit ${code}: ${err.trim()}`);
  return JSON.parse(out);
}

/**
 * The platform client of the Coordination Platform (role `platform`): an ES384 key pair kept in
 * <stateDir>/platform.json, its public JWKS registered with `npm run cli -- clients:add`. Reused
 * while the registration is active.
 */
export async function ensurePlatformClient({ stateDir, env, log }) {
  const file = path.join(stateDir, 'platform.json');
  const cliEnv = { DATABASE_URL: env.DATABASE_URL, FHIR_BASE_URL: env.FHIR_BASE_URL };
  if (fs.existsSync(file)) {
    const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
    const listed = await runCliJson(['clients:list'], cliEnv);
    if (listed.some((c) => c.client_id === saved.clientId && c.active && c.role === 'platform')) {
      log(`platform client ${saved.clientId} (reused, ${file})`);
      return saved;
    }
  }
  const { generateKeyPair, exportJWK } = await import('jose');
  const kid = `platform-${Date.now().toString(36)}`;
  const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'ES384', use: 'sig' };
  const publicJwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES384', use: 'sig' }] };
  fs.mkdirSync(path.join(stateDir, 'jwks'), { recursive: true });
  const jwksFile = path.join(stateDir, 'jwks', 'platform.jwks.json');
  fs.writeFileSync(jwksFile, `${JSON.stringify(publicJwks, null, 2)}\n`);
  const added = await runCliJson(
    ['clients:add', '--org', PLATFORM_ORGANIZATION_ID, '--role', 'platform', '--jwks', jwksFile],
    cliEnv,
  );
  const platform = {
    clientId: added.client_id,
    organizationId: PLATFORM_ORGANIZATION_ID,
    name: 'CareRelay Coordination Platform',
    role: 'platform',
    alg: 'ES384',
    privateJwk,
    publicJwks,
  };
  fs.writeFileSync(file, `${JSON.stringify(platform, null, 2)}\n`, { mode: 0o600 });
  log(
    `platform client ${platform.clientId} registered (npm run cli -- clients:add --role platform)`,
  );
  return platform;
}

/**
 * The network's own secrets, generated once and kept in <stateDir>/secrets.json (mode 600) next
 * to platform.json: EHR_CREDENTIALS_KEY (AES-256-GCM key of the ehr-connector's stored EHR
 * credentials). Delete the file to start over: stored EHR credentials then no longer decrypt.
 */
export async function ensureSecrets({ stateDir }) {
  const file = path.join(stateDir, 'secrets.json');
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8'));
  const { randomBytes } = await import('node:crypto');
  const secrets = { ehrCredentialsKey: randomBytes(32).toString('base64') };
  fs.writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  return secrets;
}

/**
 * The organizations whose people sign in to the demo's web app (apps/web/src/accounts/
 * demo-people.ts names the same): two CBOs and the coordinator.
 */
export const WEB_DEMO_ORGANIZATIONS = [
  { organizationId: 'org-0003', role: 'cbo' },
  { organizationId: 'org-0021', role: 'cbo' },
  { organizationId: 'cook-county-health', role: 'coordinator' },
];

/**
 * The web app's SMART clients, one per organization of WEB_DEMO_ORGANIZATIONS: ES384 keys kept
 * in <stateDir>/web-clients.json (mode 600), registered with the CLI before the apps start so
 * that the FHIR API knows them as trusted web apps (FHIR_ON_BEHALF_OF_CLIENTS). Reused while
 * every registration is active.
 */
export async function ensureWebClients({ stateDir, env, log }) {
  const file = path.join(stateDir, 'web-clients.json');
  const cliEnv = { DATABASE_URL: env.DATABASE_URL, FHIR_BASE_URL: env.FHIR_BASE_URL };
  if (fs.existsSync(file)) {
    const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
    const listed = await runCliJson(['clients:list'], cliEnv);
    const active = new Set(listed.filter((c) => c.active).map((c) => c.client_id));
    if (
      saved.length === WEB_DEMO_ORGANIZATIONS.length &&
      saved.every((c) => active.has(c.clientId))
    ) {
      log(`web clients ${saved.map((c) => c.clientId).join(', ')} (reused, ${file})`);
      return saved;
    }
  }
  const { generateKeyPair, exportJWK } = await import('jose');
  fs.mkdirSync(path.join(stateDir, 'jwks'), { recursive: true });
  const clients = [];
  for (const org of WEB_DEMO_ORGANIZATIONS) {
    const kid = `web-${org.organizationId}-${Date.now().toString(36)}`;
    const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
    const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'ES384', use: 'sig' };
    const publicJwks = {
      keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES384', use: 'sig' }],
    };
    const jwksFile = path.join(stateDir, 'jwks', `web-${org.organizationId}.jwks.json`);
    fs.writeFileSync(jwksFile, `${JSON.stringify(publicJwks, null, 2)}\n`);
    const added = await runCliJson(
      ['clients:add', '--org', org.organizationId, '--role', org.role, '--jwks', jwksFile],
      cliEnv,
    );
    clients.push({ ...org, clientId: added.client_id, privateJwk });
  }
  fs.writeFileSync(file, `${JSON.stringify(clients, null, 2)}\n`, { mode: 0o600 });
  log(
    `web clients registered for ${WEB_DEMO_ORGANIZATIONS.map((o) => o.organizationId).join(', ')}`,
  );
  return clients;
}

/**
 * Access tokens of the platform client (SMART Backend Services against the network's FHIR API),
 * for the calls the network makes to the services' own APIs (EHR endpoint registration) and for
 * tests. Cached until shortly before expiry.
 */
export function platformTokens({ fhirBaseUrl, platform }) {
  let cached;
  const token = async () => {
    if (cached && cached.expiresAt - 30_000 > Date.now()) return cached.token;
    const { SignJWT, importJWK } = await import('jose');
    const { randomUUID } = await import('node:crypto');
    const tokenUrl = `${fhirBaseUrl}/auth/token`;
    const alg = platform.privateJwk.kty === 'EC' ? 'ES384' : 'RS384';
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg, kid: platform.privateJwk.kid, typ: 'JWT' })
      .setIssuer(platform.clientId)
      .setSubject(platform.clientId)
      .setAudience(tokenUrl)
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime('4m')
      .sign(await importJWK(platform.privateJwk, alg));
    const response = await fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        scope: 'system/*.rs',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
      }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok || !body.access_token)
      throw new Error(`platform token: HTTP ${response.status} ${body.error ?? ''}`.trim());
    cached = { token: body.access_token, expiresAt: Date.now() + (body.expires_in ?? 300) * 1000 };
    return cached.token;
  };
  return {
    token,
    /** fetch with the platform's bearer token. */
    fetch: async (url, init = {}) =>
      fetch(url, {
        ...init,
        headers: { ...(init.headers ?? {}), authorization: `Bearer ${await token()}` },
      }),
  };
}
