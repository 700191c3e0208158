import { createPrivateKey, createPublicKey, KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { DataSource } from 'typeorm';

/**
 * The key that signs (and verifies) the access tokens this server issues.
 *
 * Where it comes from (AuthConfig):
 *  - FHIR_TOKEN_SIGNING_KEY: a private JWK (JSON) or a PKCS#8 / SEC1 / PKCS#1 PEM; every process
 *    given the same value accepts each other's tokens. The production choice.
 *  - otherwise, source `database` (default): an ES384 key generated once and kept in the
 *    fhir_api schema (table auth_signing_keys), so that several processes on one database share
 *    it. Anyone who can read that table can mint tokens: protect the schema accordingly.
 *  - source `memory`: generated at start and held in memory only (one process; tests). Tokens
 *    die with the process.
 */
export interface TokenSigningKey {
  alg: 'ES384' | 'ES256' | 'RS384' | 'RS256' | 'PS384' | 'EdDSA';
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export class SigningKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SigningKeyError';
  }
}

function algFor(key: KeyObject, declared?: string): TokenSigningKey['alg'] {
  const type = key.asymmetricKeyType;
  if (type === 'rsa') {
    if (declared === 'RS256' || declared === 'PS384') return declared;
    if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
      throw new SigningKeyError('FHIR_TOKEN_SIGNING_KEY: RSA keys need 2048 bits or more');
    }
    return 'RS384';
  }
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'secp384r1') return 'ES384';
    if (curve === 'prime256v1') return 'ES256';
    throw new SigningKeyError(`FHIR_TOKEN_SIGNING_KEY: unsupported EC curve ${curve}`);
  }
  if (type === 'ed25519') return 'EdDSA';
  throw new SigningKeyError(`FHIR_TOKEN_SIGNING_KEY: unsupported key type ${type}`);
}

async function fromPrivateKey(
  privateKey: KeyObject,
  declaredAlg?: string,
): Promise<TokenSigningKey> {
  if (privateKey.type !== 'private') {
    throw new SigningKeyError('FHIR_TOKEN_SIGNING_KEY must be a private key');
  }
  const alg = algFor(privateKey, declaredAlg);
  const publicKey = createPublicKey(privateKey);
  const kid = await calculateJwkThumbprint(await exportJWK(publicKey), 'sha256');
  return { alg, kid, privateKey, publicKey };
}

/** Parses FHIR_TOKEN_SIGNING_KEY: a private JWK as JSON, or a PEM private key. */
export async function parseSigningKey(value: string): Promise<TokenSigningKey> {
  const text = value.trim();
  try {
    if (text.startsWith('{')) {
      const jwk = JSON.parse(text) as JWK;
      if (!jwk.d) throw new SigningKeyError('the JWK has no private part ("d")');
      const key = createPrivateKey({
        key: jwk as unknown as import('node:crypto').JsonWebKey,
        format: 'jwk',
      });
      const result = await fromPrivateKey(key, jwk.alg);
      return jwk.kid ? { ...result, kid: jwk.kid } : result;
    }
    if (text.startsWith('-----BEGIN')) {
      return await fromPrivateKey(createPrivateKey(text.replace(/\\n/g, '\n')));
    }
  } catch (error) {
    if (error instanceof SigningKeyError) throw error;
    throw new SigningKeyError(
      `FHIR_TOKEN_SIGNING_KEY could not be read: ${(error as Error).message}`,
    );
  }
  throw new SigningKeyError('FHIR_TOKEN_SIGNING_KEY must be a private JWK (JSON) or a PEM key');
}

export async function generateSigningKey(): Promise<TokenSigningKey> {
  const { privateKey } = await generateKeyPair('ES384', { extractable: true });
  return fromPrivateKey(privateKey as KeyObject);
}

/**
 * The key shared through the database: the first process to start generates and inserts it;
 * concurrent starters converge on the one row that won.
 */
export async function databaseSigningKey(
  dataSource: DataSource,
  schema: string,
): Promise<TokenSigningKey> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`invalid schema ${schema}`);
  const table = `"${schema}".auth_signing_keys`;
  const read = async () =>
    (await dataSource.query(`SELECT private_jwk FROM ${table} WHERE name = 'access-token'`)) as {
      private_jwk: JWK;
    }[];
  let rows = await read();
  if (rows.length === 0) {
    const fresh = await generateSigningKey();
    const jwk = { ...(await exportJWK(fresh.privateKey)), alg: fresh.alg, kid: fresh.kid };
    await dataSource.query(
      `INSERT INTO ${table} (name, kid, alg, private_jwk) VALUES ('access-token', $1, $2, $3::jsonb)
       ON CONFLICT (name) DO NOTHING`,
      [fresh.kid, fresh.alg, JSON.stringify(jwk)],
    );
    rows = await read();
  }
  const jwk = rows[0].private_jwk;
  const privateKey = (await importJWK(jwk, jwk.alg)) as KeyObject;
  const key = await fromPrivateKey(privateKey, jwk.alg);
  return { ...key, kid: jwk.kid ?? key.kid };
}

export type SigningKeySource = 'auto' | 'database' | 'memory';

export async function loadSigningKey(options: {
  key?: string;
  source: SigningKeySource;
  dataSource?: DataSource;
  schema?: string;
}): Promise<TokenSigningKey> {
  if (options.key && options.key.trim() !== '') return parseSigningKey(options.key);
  if (options.source === 'memory') return generateSigningKey();
  if (!options.dataSource || !options.schema) {
    throw new SigningKeyError('no FHIR_TOKEN_SIGNING_KEY and no database to keep a shared key in');
  }
  return databaseSigningKey(options.dataSource, options.schema);
}
