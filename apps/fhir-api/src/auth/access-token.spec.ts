import { AccessTokens, InvalidAccessToken, MAX_ACCESS_TOKEN_TTL_SECONDS } from './access-token';
import { generateSigningKey, parseSigningKey, type TokenSigningKey } from './signing-key';
import { exportJWK, exportPKCS8, generateKeyPair } from 'jose';
import type { RequestActor } from './request-actor';

const BASE = 'http://localhost:8080/fhir';
const actor: RequestActor = {
  clientId: 'c1',
  organizationId: 'org-1',
  role: 'cbo',
  scopes: ['system/Task.rus', 'system/Patient.rs'],
};

let key: TokenSigningKey;
beforeAll(async () => {
  key = await generateSigningKey();
});

describe('AccessTokens', () => {
  it('issues a token that verifies back to the actor, living at most 300 s', async () => {
    const tokens = new AccessTokens(key, BASE);
    const issued = await tokens.issue(actor);
    expect(issued.expiresIn).toBe(MAX_ACCESS_TOKEN_TTL_SECONDS);
    expect(issued.scope).toBe('system/Task.rus system/Patient.rs');
    expect(await tokens.verify(issued.accessToken)).toEqual(actor);
    const payload = JSON.parse(
      Buffer.from(issued.accessToken.split('.')[1], 'base64url').toString(),
    );
    expect(payload.exp - payload.iat).toBe(300);
  });

  it('carries the purpose of use as claim purpose_of_use', async () => {
    const tokens = new AccessTokens(key, BASE);
    const issued = await tokens.issue({ ...actor, purposeOfUse: 'HRESCH' });
    expect(await tokens.verify(issued.accessToken)).toEqual({ ...actor, purposeOfUse: 'HRESCH' });
  });

  it('refuses lifetimes above five minutes', () => {
    expect(() => new AccessTokens(key, BASE, 301)).toThrow();
    expect(() => new AccessTokens(key, BASE, 0)).toThrow();
    expect(new AccessTokens(key, BASE, 60).ttlSeconds).toBe(60);
  });

  it('refuses an expired token', async () => {
    let now = Date.now();
    const tokens = new AccessTokens(key, BASE, 60, () => now);
    const { accessToken } = await tokens.issue(actor);
    now += 66_000;
    await expect(tokens.verify(accessToken)).rejects.toThrow('token expired');
  });

  it('refuses a token of another key, another server, or tampered with', async () => {
    const { accessToken } = await new AccessTokens(await generateSigningKey(), BASE).issue(actor);
    await expect(new AccessTokens(key, BASE).verify(accessToken)).rejects.toBeInstanceOf(
      InvalidAccessToken,
    );
    const other = await new AccessTokens(key, 'http://other/fhir').issue(actor);
    await expect(new AccessTokens(key, BASE).verify(other.accessToken)).rejects.toThrow(
      'invalid token',
    );
    const mine = await new AccessTokens(key, BASE).issue(actor);
    const [h, p, s] = mine.accessToken.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...claims, role: 'coordinator' })).toString(
      'base64url',
    );
    await expect(new AccessTokens(key, BASE).verify(`${h}.${forged}.${s}`)).rejects.toThrow();
    await expect(new AccessTokens(key, BASE).verify('garbage')).rejects.toThrow();
  });
});

describe('parseSigningKey', () => {
  it('reads a private JWK and a PEM, and picks the algorithm from the key', async () => {
    const ec = await generateKeyPair('ES384', { extractable: true });
    const jwk = JSON.stringify({ ...(await exportJWK(ec.privateKey)), kid: 'k1' });
    const fromJwk = await parseSigningKey(jwk);
    expect(fromJwk.alg).toBe('ES384');
    expect(fromJwk.kid).toBe('k1');
    const rsa = await generateKeyPair('RS384', { extractable: true });
    const pem = await exportPKCS8(rsa.privateKey);
    expect((await parseSigningKey(pem)).alg).toBe('RS384');
    expect((await parseSigningKey(pem.replace(/\n/g, '\\n'))).alg).toBe('RS384'); // one-line env
    // two processes with the same key accept each other's tokens
    const a = new AccessTokens(await parseSigningKey(jwk), BASE);
    const b = new AccessTokens(await parseSigningKey(jwk), BASE);
    expect(await b.verify((await a.issue(actor)).accessToken)).toEqual(actor);
  });

  it('refuses public keys and junk', async () => {
    const ec = await generateKeyPair('ES384', { extractable: true });
    await expect(parseSigningKey(JSON.stringify(await exportJWK(ec.publicKey)))).rejects.toThrow(
      /private/,
    );
    await expect(parseSigningKey('secret')).rejects.toThrow(/JWK|PEM/);
    await expect(parseSigningKey('{ not json')).rejects.toThrow(/could not be read/);
  });
});
