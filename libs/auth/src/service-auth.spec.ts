import { Controller, Get, Post } from '@nestjs/common';
import { generateKeyPair, SignJWT, type KeyLike } from 'jose';
import { InvalidAccessToken, verifyAccessToken } from './access-token';
import { ClientRevocations } from './client-revocations';
import { Public } from './public.decorator';
import { admits, Roles } from './roles.decorator';
import { routePoliciesOf, undecidedRoutes } from './route-policies';
import { VerifiedTokens } from './verified-tokens';

const ISSUER = 'http://127.0.0.1:8080/fhir';

async function sign(key: KeyLike, claims: Record<string, unknown>, ttl = 300): Promise<string> {
  const iat = Math.floor(Date.now() / 1000);
  return new SignJWT({ client_id: 'c1', org: 'o1', role: 'cbo', scope: 'system/*.rs', ...claims })
    .setProtectedHeader({ alg: 'ES384', typ: 'at+jwt' })
    .setIssuer(ISSUER)
    .setAudience(ISSUER)
    .setSubject('c1')
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttl)
    .sign(key);
}

describe('verifyAccessToken', () => {
  it('maps a valid token to its actor and refuses other keys, lifetimes and claims', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES384');
    const other = await generateKeyPair('ES384');
    await expect(
      verifyAccessToken(await sign(privateKey, {}), publicKey, { issuer: ISSUER }),
    ).resolves.toEqual({
      clientId: 'c1',
      organizationId: 'o1',
      role: 'cbo',
      scopes: ['system/*.rs'],
    });
    for (const token of [
      await sign(other.privateKey, {}),
      await sign(privateKey, {}, 3600),
      await sign(privateKey, { role: 'root' }),
      await sign(privateKey, { client_id: 'someone-else' }),
    ])
      await expect(verifyAccessToken(token, publicKey, { issuer: ISSUER })).rejects.toThrow(
        InvalidAccessToken,
      );
    await expect(
      verifyAccessToken(await sign(privateKey, {}), publicKey, { issuer: 'http://other/fhir' }),
    ).rejects.toThrow(InvalidAccessToken);
  });
});

describe('verified token cache', () => {
  it('verifies a token once, yet checks expiry and revocation on every use', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES384');
    let keyLookups = 0;
    const key = async () => {
      keyLookups++;
      return publicKey;
    };
    const cache = new VerifiedTokens();
    let now = Date.now();
    let revoked = false;
    const options = { issuer: ISSUER, cache, now: () => now, revoked: () => revoked };
    const token = await sign(privateKey, {}, 60);
    const first = await verifyAccessToken(token, key, options);
    first.scopes.push('system/*.cruds');
    await expect(verifyAccessToken(token, key, options)).resolves.toEqual({
      clientId: 'c1',
      organizationId: 'o1',
      role: 'cbo',
      scopes: ['system/*.rs'],
    });
    expect(keyLookups).toBe(1);

    revoked = true;
    await expect(verifyAccessToken(token, key, options)).rejects.toThrow('client disabled');
    revoked = false;

    // Past exp (and jose's 5 s tolerance) the cached entry is dropped and the token refused.
    now += 70_000;
    await expect(verifyAccessToken(token, key, options)).rejects.toThrow('token expired');
    expect(keyLookups).toBe(2);
    expect(cache.size).toBe(0);
  });

  it('never holds a token that failed verification, and is bounded', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES384');
    const other = await generateKeyPair('ES384');
    const cache = new VerifiedTokens(2);
    const bad = await sign(other.privateKey, {});
    await expect(verifyAccessToken(bad, publicKey, { issuer: ISSUER, cache })).rejects.toThrow(
      InvalidAccessToken,
    );
    await expect(verifyAccessToken(bad, publicKey, { issuer: ISSUER, cache })).rejects.toThrow(
      InvalidAccessToken,
    );
    const tokens = [
      await sign(privateKey, { scope: 'a' }),
      await sign(privateKey, { scope: 'b' }),
      await sign(privateKey, { scope: 'c' }),
    ];
    for (const token of tokens)
      await verifyAccessToken(token, publicKey, { issuer: ISSUER, cache });
    expect(cache.size).toBe(2);
    expect(cache.get(tokens[0], Date.now())).toBeUndefined();
    expect(cache.get(tokens[2], Date.now())?.actor.scopes).toEqual(['c']);
  });
});

describe('route policies', () => {
  @Roles('platform', 'admin')
  @Controller('things')
  class Things {
    @Get()
    @Roles('cbo')
    list() {}

    @Post(':id')
    create() {}

    @Public()
    @Get('open')
    open() {}
  }

  @Controller('other')
  class Undecided {
    @Get()
    list() {}
  }

  it('reads each route with its decision (handler over class) and finds undecided ones', () => {
    expect(routePoliciesOf(Things)).toEqual([
      expect.objectContaining({ method: 'GET', path: '/things', callers: ['cbo'] }),
      expect.objectContaining({
        method: 'POST',
        path: '/things/:id',
        callers: ['platform', 'admin'],
      }),
      expect.objectContaining({ method: 'GET', path: '/things/open', public: true }),
    ]);
    expect(undecidedRoutes([Things, Undecided]).map((r) => r.path)).toEqual(['/other']);
  });

  it('admits operators only as coordinators of an admin organization', () => {
    const actor = (role: 'coordinator' | 'platform' | 'cbo', org: string) => ({
      clientId: 'c',
      organizationId: org,
      role,
      scopes: [],
    });
    const admins = ['carerelay-platform'];
    expect(admits(['admin'], actor('coordinator', 'carerelay-platform'), admins)).toBe(true);
    expect(admits(['admin'], actor('coordinator', 'cook-county'), admins)).toBe(false);
    expect(admits(['admin'], actor('cbo', 'carerelay-platform'), admins)).toBe(false);
    expect(admits(['platform', 'admin'], actor('platform', 'x'), admins)).toBe(true);
  });
});

describe('client revocations', () => {
  it('refuses tokens issued up to the disabling (a few seconds of clock skew), not later ones', async () => {
    const revocations = new ClientRevocations();
    const disabledAt = Date.parse('2026-01-01T12:00:00Z');
    revocations.record('c1', disabledAt);
    const at = disabledAt / 1000;
    expect(revocations.revokes('c1', at - 200)).toBe(true);
    expect(revocations.revokes('c1', at + 4)).toBe(true);
    expect(revocations.revokes('c1', at + 60)).toBe(false);
    expect(revocations.revokes('c2', at - 200)).toBe(false);
    // An older announcement does not move the disabling back.
    revocations.record('c1', disabledAt - 3_600_000);
    expect(revocations.revokes('c1', at - 10)).toBe(true);

    const { privateKey, publicKey } = await generateKeyPair('ES384');
    const token = await sign(privateKey, {});
    await expect(
      verifyAccessToken(token, publicKey, { issuer: ISSUER, revoked: () => true }),
    ).rejects.toThrow('client disabled');
    await expect(
      verifyAccessToken(token, publicKey, { issuer: ISSUER, revoked: () => false }),
    ).resolves.toMatchObject({ clientId: 'c1' });
  });
});
