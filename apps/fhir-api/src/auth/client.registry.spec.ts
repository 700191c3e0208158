import { exportJWK, generateKeyPair } from 'jose';
import { ClientRegistrationError, validateClientJwks } from './client.registry';

describe('validateClientJwks', () => {
  it('accepts public RSA (≥ 2048 bits) and EC P-384 keys with a kid', async () => {
    const rsa = await generateKeyPair('RS384');
    const ec = await generateKeyPair('ES384');
    const jwks = {
      keys: [
        { ...(await exportJWK(rsa.publicKey)), kid: 'r', alg: 'RS384', use: 'sig' },
        { ...(await exportJWK(ec.publicKey)), kid: 'e' },
      ],
    };
    expect(validateClientJwks(jwks).keys).toHaveLength(2);
  });

  it('refuses private keys, missing kids, other curves and algorithms, junk', async () => {
    const ec = await generateKeyPair('ES384', { extractable: true });
    const p256 = await generateKeyPair('ES256');
    const cases: unknown[] = [
      null,
      { keys: [] },
      { keys: 'x' },
      { keys: [{ ...(await exportJWK(ec.privateKey)), kid: 'k' }] },
      { keys: [await exportJWK(ec.publicKey)] },
      { keys: [{ ...(await exportJWK(p256.publicKey)), kid: 'k' }] },
      { keys: [{ ...(await exportJWK(ec.publicKey)), kid: 'k', alg: 'ES256' }] },
      { keys: [{ ...(await exportJWK(ec.publicKey)), kid: 'k', use: 'enc' }] },
      { keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: 'k' }] },
      { keys: [{ kty: 'RSA', n: 'AQAB', e: 'AQAB', kid: 'small' }] },
    ];
    for (const value of cases) {
      expect(() => validateClientJwks(value)).toThrow(ClientRegistrationError);
    }
  });
});
