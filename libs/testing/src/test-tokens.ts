import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import type { ActorRole } from '@carerelay/auth';

export interface TestTokenIssuer {
  /** iss = aud of its tokens (a FHIR base URL of its own). */
  issuer: string;
  jwksUrl: string;
  /** What a service needs to trust these tokens (ServiceAuthModule reads it from process.env). */
  env: { SERVICE_AUTH_ISSUER: string; SERVICE_AUTH_JWKS_URL: string };
  token(
    role: ActorRole,
    organizationId?: string,
    options?: { ttlSeconds?: number },
  ): Promise<string>;
  /** `{ authorization: 'Bearer …' }` for `role` (the platform by default). */
  headers(role?: ActorRole, organizationId?: string): Promise<Record<string, string>>;
  /** fetch as the platform. */
  fetch(url: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

export const TEST_PLATFORM_ORG = 'carerelay-platform';

/**
 * Tests that start a service in-process: a key of their own, published as a JWKS on a loopback
 * port, signing access tokens shaped as the FHIR API's. The service verifies them exactly as it
 * verifies the FHIR API's: only where it looks for the keys differs.
 */
export async function startTestTokenIssuer(): Promise<TestTokenIssuer> {
  const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
  const kid = `test-${randomUUID()}`;
  const jwks = JSON.stringify({
    keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES384', use: 'sig' }],
  });
  const server: Server = createServer((request, response) => {
    if (request.url?.endsWith('/.well-known/jwks.json')) {
      response.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(jwks);
    } else response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}/fhir`;
  const jwksUrl = `${issuer}/.well-known/jwks.json`;
  const token = (role: ActorRole, organizationId = TEST_PLATFORM_ORG, options = {}) =>
    signTestToken(privateKey, kid, issuer, role, organizationId, options);
  return {
    issuer,
    jwksUrl,
    env: { SERVICE_AUTH_ISSUER: issuer, SERVICE_AUTH_JWKS_URL: jwksUrl },
    token,
    headers: async (role = 'platform', organizationId = TEST_PLATFORM_ORG) => ({
      authorization: `Bearer ${await token(role, organizationId)}`,
    }),
    fetch: async (url, init = {}) =>
      fetch(url, {
        ...init,
        headers: {
          ...(init.headers as Record<string, string> | undefined),
          authorization: `Bearer ${await token('platform')}`,
        },
      }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function signTestToken(
  key: KeyLike,
  kid: string,
  issuer: string,
  role: ActorRole,
  organizationId: string,
  { ttlSeconds = 300 }: { ttlSeconds?: number },
): Promise<string> {
  const clientId = `test-${role}-${organizationId}`;
  const iat = Math.floor(Date.now() / 1000);
  return new SignJWT({ client_id: clientId, org: organizationId, role, scope: 'system/*.rs' })
    .setProtectedHeader({ alg: 'ES384', kid, typ: 'at+jwt' })
    .setIssuer(issuer)
    .setAudience(issuer)
    .setSubject(clientId)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(iat + ttlSeconds)
    .setJti(randomUUID())
    .sign(key);
}
