import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK, type KeyLike, SignJWT } from 'jose';
import type { RegisteredClient } from './client.registry';
import {
  AUTHENTICATION_FAILED,
  authenticateTokenRequest,
  CLIENT_ASSERTION_TYPE,
  OAuthError,
  TokenRequestDeps,
} from './token-request';

const TOKEN_URL = 'http://localhost:8080/fhir/auth/token';
const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const nowSeconds = NOW / 1000;

interface TestKey {
  alg: string;
  kid: string;
  privateKey: KeyLike;
  publicJwk: JWK;
}

async function makeKey(
  alg: 'RS384' | 'ES384' | 'RS256' | 'ES256',
  kid = randomUUID(),
): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  return { alg, kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg } };
}

let rsKey: TestKey;
let esKey: TestKey;
let otherEsKey: TestKey;
let rs256Key: TestKey;

beforeAll(async () => {
  [rsKey, esKey, otherEsKey, rs256Key] = await Promise.all([
    makeKey('RS384'),
    makeKey('ES384'),
    makeKey('ES384'),
    makeKey('RS256'),
  ]);
});

function client(
  id: string,
  role: RegisteredClient['role'],
  keys: TestKey[],
  active = true,
): RegisteredClient {
  return {
    clientId: id,
    organizationId: `org-of-${id}`,
    role,
    jwks: { keys: keys.map((k) => k.publicJwk) },
    createdAt: new Date(NOW),
    active,
  };
}

interface AssertionOptions {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number | null;
  jti?: string | null;
  alg?: string;
  kid?: string;
  iat?: number;
  claims?: Record<string, unknown>;
}

function assertion(key: TestKey, clientId: string, o: AssertionOptions = {}): Promise<string> {
  const jwt = new SignJWT(o.claims ?? {})
    .setProtectedHeader({ alg: o.alg ?? key.alg, kid: o.kid ?? key.kid, typ: 'JWT' })
    .setIssuer(o.iss ?? clientId)
    .setSubject(o.sub ?? clientId)
    .setAudience(o.aud ?? TOKEN_URL)
    .setIssuedAt(o.iat ?? nowSeconds);
  if (o.exp !== null) jwt.setExpirationTime(o.exp ?? nowSeconds + 240);
  if (o.jti !== null) jwt.setJti(o.jti ?? randomUUID());
  return jwt.sign(key.privateKey);
}

function setup(clients: RegisteredClient[]) {
  const used = new Set<string>();
  const deps: TokenRequestDeps = {
    tokenUrl: TOKEN_URL,
    now: () => NOW,
    findClient: async (id) => clients.find((c) => c.clientId === id) ?? null,
    rememberJti: async (id, jti) => {
      const key = `${id} ${jti}`;
      if (used.has(key)) return false;
      used.add(key);
      return true;
    },
  };
  return { deps, used };
}

const form = (
  clientAssertion: string,
  scope = 'system/Task.rs',
  extra: Record<string, unknown> = {},
) => ({
  grant_type: 'client_credentials',
  scope,
  client_assertion_type: CLIENT_ASSERTION_TYPE,
  client_assertion: clientAssertion,
  ...extra,
});

async function rejection(promise: Promise<unknown>): Promise<OAuthError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(OAuthError);
    return error as OAuthError;
  }
  throw new Error('expected the token request to be refused');
}

describe('authenticateTokenRequest', () => {
  const ehr = () => client('ehr-1', 'ehr', [rsKey]);
  const cbo = () => client('cbo-1', 'cbo', [esKey]);

  it('accepts an RS384 assertion and an ES384 assertion', async () => {
    const { deps } = setup([ehr(), cbo()]);
    const a = await authenticateTokenRequest(form(await assertion(rsKey, 'ehr-1')), deps);
    expect(a.client.clientId).toBe('ehr-1');
    expect(a.grantedScopes).toEqual(['system/Task.rs']);
    const b = await authenticateTokenRequest(form(await assertion(esKey, 'cbo-1')), deps);
    expect(b.client.role).toBe('cbo');
  });

  it('reads the purpose of use stated in the UDAP hl7-b2b extension of the assertion', async () => {
    const { deps } = setup([cbo()]);
    const stating = (purpose_of_use: unknown) =>
      assertion(esKey, 'cbo-1', { claims: { extensions: { 'hl7-b2b': { purpose_of_use } } } });
    const none = await authenticateTokenRequest(form(await assertion(esKey, 'cbo-1')), deps);
    expect(none.purposeOfUse).toBeUndefined();
    for (const [stated, code] of [
      [['urn:oid:2.16.840.1.113883.5.8#HRESCH'], 'HRESCH'],
      [['http://terminology.hl7.org/CodeSystem/v3-ActReason#COC'], 'COC'],
      [['TREAT'], 'TREAT'],
    ] as const) {
      const answer = await authenticateTokenRequest(form(await stating(stated)), deps);
      expect(answer.purposeOfUse).toBe(code);
    }
    for (const bad of ['TREAT', [], ['TREAT', 'HPAYMT'], ['treat'], [7], ['urn:oid:1.2#TREAT']]) {
      const error = await rejection(authenticateTokenRequest(form(await stating(bad)), deps));
      expect(error.error).toBe('invalid_request');
    }
  });

  it('narrows the scope to what the role may have', async () => {
    const { deps } = setup([cbo()]);
    const result = await authenticateTokenRequest(
      form(
        await assertion(esKey, 'cbo-1'),
        'system/Task.cruds system/AuditEvent.rs system/Patient.read',
      ),
      deps,
    );
    expect(result.grantedScopes).toEqual(['system/Patient.read', 'system/Task.rus']);
    expect(result.droppedScopes).toEqual(['system/AuditEvent.rs']);
  });

  it('refuses a replayed jti', async () => {
    const { deps } = setup([ehr()]);
    const signed = await assertion(rsKey, 'ehr-1', { jti: 'once' });
    await authenticateTokenRequest(form(signed), deps);
    const error = await rejection(authenticateTokenRequest(form(signed), deps));
    expect(error.error).toBe('invalid_client');
    expect(error.description).toMatch(/jti was already used/);
    // a new assertion with the same jti is a replay too
    const again = await assertion(rsKey, 'ehr-1', { jti: 'once' });
    expect((await rejection(authenticateTokenRequest(form(again), deps))).description).toMatch(
      /jti/,
    );
  });

  it('keeps jtis per client', async () => {
    const { deps } = setup([ehr(), cbo()]);
    await authenticateTokenRequest(form(await assertion(rsKey, 'ehr-1', { jti: 'same' })), deps);
    await expect(
      authenticateTokenRequest(form(await assertion(esKey, 'cbo-1', { jti: 'same' })), deps),
    ).resolves.toBeDefined();
  });

  it('refuses algorithms other than RS384 and ES384', async () => {
    const rs256 = client('rs256', 'ehr', [rs256Key]);
    const { deps } = setup([rs256]);
    const error = await rejection(
      authenticateTokenRequest(form(await assertion(rs256Key, 'rs256')), deps),
    );
    expect(error.error).toBe('invalid_client');
    expect(error.description).toMatch(/RS384 or ES384/);
  });

  it('refuses an unsigned (alg none) assertion', async () => {
    const { deps } = setup([ehr()]);
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const none = `${b64({ alg: 'none' })}.${b64({ iss: 'ehr-1', sub: 'ehr-1', aud: TOKEN_URL, exp: nowSeconds + 60, jti: 'x' })}.`;
    expect((await rejection(authenticateTokenRequest(form(none), deps))).error).toBe(
      'invalid_client',
    );
  });

  it('refuses a wrong audience', async () => {
    const { deps } = setup([ehr()]);
    const error = await rejection(
      authenticateTokenRequest(
        form(await assertion(rsKey, 'ehr-1', { aud: 'http://elsewhere/token' })),
        deps,
      ),
    );
    expect(error.error).toBe('invalid_client');
    expect(error.description).toMatch(/aud must be the token URL/);
  });

  it('accepts the token URL of a configured alias of the base, and no other spelling', async () => {
    const alias = 'http://127.0.0.1:8080/fhir/auth/token';
    const { deps } = setup([ehr()]);
    const withAlias = { ...deps, tokenUrlAliases: [alias] };
    const accepted = await authenticateTokenRequest(
      form(await assertion(rsKey, 'ehr-1', { aud: alias })),
      withAlias,
    );
    expect(accepted.client.clientId).toBe('ehr-1');
    // Not configured: the same alias is refused.
    const refused = await rejection(
      authenticateTokenRequest(form(await assertion(rsKey, 'ehr-1', { aud: alias })), deps),
    );
    expect(refused.description).toMatch(/aud must be the token URL/);
    for (const other of [
      'http://127.0.0.2:8080/fhir/auth/token',
      'http://localhost:8081/fhir/auth/token',
    ]) {
      const error = await rejection(
        authenticateTokenRequest(form(await assertion(rsKey, 'ehr-1', { aud: other })), withAlias),
      );
      expect(error.error).toBe('invalid_client');
    }
  });

  it('refuses an exp more than five minutes ahead, a missing exp, an expired assertion', async () => {
    const { deps, used } = setup([ehr()]);
    const far = await rejection(
      authenticateTokenRequest(
        form(await assertion(rsKey, 'ehr-1', { exp: nowSeconds + 600 })),
        deps,
      ),
    );
    expect(far.description).toMatch(/at most 300 seconds/);
    const none = await rejection(
      authenticateTokenRequest(form(await assertion(rsKey, 'ehr-1', { exp: null })), deps),
    );
    expect(none.description).toMatch(/exp/);
    const expired = await rejection(
      authenticateTokenRequest(
        form(await assertion(rsKey, 'ehr-1', { exp: nowSeconds - 60 })),
        deps,
      ),
    );
    expect(expired.description).toMatch(/expired/);
    expect(used.size).toBe(0); // nothing recorded for refused assertions
    await expect(
      authenticateTokenRequest(
        form(await assertion(rsKey, 'ehr-1', { exp: nowSeconds + 300 })),
        deps,
      ),
    ).resolves.toBeDefined();
  });

  it('refuses an assertion issued in the future (beyond the clock skew), accepts one within it', async () => {
    const { deps } = setup([ehr()]);
    const future = await rejection(
      authenticateTokenRequest(
        form(await assertion(rsKey, 'ehr-1', { iat: nowSeconds + 3600 })),
        deps,
      ),
    );
    expect(future.error).toBe('invalid_client');
    expect(future.description).toMatch(/iat/);
    await expect(
      authenticateTokenRequest(
        form(await assertion(rsKey, 'ehr-1', { iat: nowSeconds + 5 })),
        deps,
      ),
    ).resolves.toBeDefined();
  });

  it('refuses a missing jti', async () => {
    const { deps } = setup([ehr()]);
    const error = await rejection(
      authenticateTokenRequest(form(await assertion(rsKey, 'ehr-1', { jti: null })), deps),
    );
    expect(error.description).toMatch(/jti/);
  });

  it('refuses an unknown client, a disabled client, iss ≠ sub, a client_id that differs', async () => {
    const { deps } = setup([ehr(), client('off', 'ehr', [rsKey], false)]);
    expect(
      (await rejection(authenticateTokenRequest(form(await assertion(rsKey, 'nobody')), deps)))
        .description,
    ).toBe(AUTHENTICATION_FAILED);
    expect(
      (await rejection(authenticateTokenRequest(form(await assertion(rsKey, 'off')), deps)))
        .description,
    ).toBe('client is disabled');
    expect(
      (
        await rejection(
          authenticateTokenRequest(form(await assertion(rsKey, 'ehr-1', { sub: 'other' })), deps),
        )
      ).description,
    ).toMatch(/iss and sub/);
    expect(
      (
        await rejection(
          authenticateTokenRequest(
            form(await assertion(rsKey, 'ehr-1'), 'system/Task.rs', { client_id: 'x' }),
            deps,
          ),
        )
      ).description,
    ).toMatch(/client_id/);
  });

  it('refuses an assertion signed with a key the client has not registered', async () => {
    const { deps, used } = setup([cbo()]);
    const forged = await assertion(otherEsKey, 'cbo-1', { kid: esKey.kid });
    const error = await rejection(authenticateTokenRequest(form(forged), deps));
    expect(error.error).toBe('invalid_client');
    // The caller cannot tell a bad signature from an unknown client; the server log can.
    expect(error.description).toBe(AUTHENTICATION_FAILED);
    expect(error.logReason).toMatch(/signature/);
    const unknownKid = await assertion(otherEsKey, 'cbo-1');
    const noKey = await rejection(authenticateTokenRequest(form(unknownKid), deps));
    expect(noKey.description).toBe(AUTHENTICATION_FAILED);
    expect(noKey.logReason).toMatch(/no registered key/);
    const nobody = await rejection(
      authenticateTokenRequest(form(await assertion(otherEsKey, 'nobody')), deps),
    );
    expect(nobody.toJSON()).toEqual(error.toJSON());
    expect(nobody.logReason).toBe('unknown client');
    expect(used.size).toBe(0);
  });

  it('refuses a request when no requested scope may be granted', async () => {
    const { deps } = setup([ehr()]);
    const error = await rejection(
      authenticateTokenRequest(
        form(await assertion(rsKey, 'ehr-1'), 'system/AuditEvent.rs openid'),
        deps,
      ),
    );
    expect(error.error).toBe('invalid_scope');
  });

  it.each([
    [{ grant_type: undefined }, 'invalid_request'],
    [{ grant_type: 'authorization_code' }, 'unsupported_grant_type'],
    [{ grant_type: ['client_credentials', 'client_credentials'] }, 'invalid_request'],
    [{ client_assertion_type: 'urn:other' }, 'invalid_request'],
    [{ client_assertion: undefined }, 'invalid_request'],
    [{ client_assertion: 'not.a.jwt' }, 'invalid_client'],
    [{ client_assertion: 'x'.repeat(20_000) }, 'invalid_request'],
    [{ scope: undefined }, 'invalid_scope'],
    [{ scope: '   ' }, 'invalid_scope'],
  ])('refuses a malformed form %j', async (override, code) => {
    const { deps } = setup([ehr()]);
    const body = { ...form(await assertion(rsKey, 'ehr-1')), ...override };
    expect((await rejection(authenticateTokenRequest(body, deps))).error).toBe(code);
  });

  it('renders RFC 6749 error JSON', () => {
    expect(new OAuthError('invalid_client', 'nope').toJSON()).toEqual({
      error: 'invalid_client',
      error_description: 'nope',
    });
  });
});
