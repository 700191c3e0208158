import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

export class CredentialsKeyError extends Error {
  override name = 'CredentialsKeyError';
}

/** A stored credential could not be decrypted (wrong key, tampered row): never says more. */
export class CredentialsUnavailable extends Error {
  override name = 'CredentialsUnavailable';
  constructor() {
    super('EHR credentials unavailable');
  }
}

interface Key {
  id: string;
  bytes: Buffer;
}

/** EHR_CREDENTIALS_KEY: 32 bytes, base64 or base64url (`openssl rand -base64 32`). */
export function parseCredentialsKey(text: string, variable = 'EHR_CREDENTIALS_KEY'): Key {
  const bytes = Buffer.from(text.trim(), 'base64');
  if (bytes.length !== 32)
    throw new CredentialsKeyError(`${variable} must be 32 bytes, base64 (openssl rand -base64 32)`);
  return { id: createHash('sha256').update(bytes).digest('hex').slice(0, 16), bytes };
}

/**
 * Encrypts EHR endpoint credentials at rest with AES-256-GCM. Each value is bound to its endpoint
 * id (additional data): a row copied onto another endpoint does not decrypt. The key id of the
 * value is stored with it, so that values under a previous key (EHR_CREDENTIALS_PREVIOUS_KEYS)
 * still decrypt after a rotation and are re-encrypted under the current key (`ehr:rekey`).
 */
export class CredentialsCipher {
  private readonly current: Key;
  private readonly keys: Map<string, Key>;

  constructor(currentKey: string, previousKeys: string[] = []) {
    this.current = parseCredentialsKey(currentKey);
    const previous = previousKeys
      .filter((k) => k.trim() !== '')
      .map((k) => parseCredentialsKey(k, 'EHR_CREDENTIALS_PREVIOUS_KEYS'));
    this.keys = new Map([...previous, this.current].map((k) => [k.id, k]));
  }

  get keyId(): string {
    return this.current.id;
  }

  encrypt(endpointId: string, plaintext: string): { keyId: string; ciphertext: string } {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.current.bytes, iv);
    cipher.setAAD(Buffer.from(endpointId, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const value = [iv, body, cipher.getAuthTag()].map((b) => b.toString('base64url')).join('.');
    return { keyId: this.current.id, ciphertext: `v1.${value}` };
  }

  decrypt(endpointId: string, keyId: string, ciphertext: string): string {
    const key = this.keys.get(keyId);
    const parts = ciphertext.split('.');
    if (!key || parts.length !== 4 || parts[0] !== 'v1') throw new CredentialsUnavailable();
    try {
      const [iv, body, tag] = parts.slice(1).map((p) => Buffer.from(p, 'base64url'));
      const decipher = createDecipheriv('aes-256-gcm', key.bytes, iv);
      decipher.setAAD(Buffer.from(endpointId, 'utf8'));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
    } catch {
      throw new CredentialsUnavailable();
    }
  }
}

/** The cipher of EHR_CREDENTIALS_KEY (+ EHR_CREDENTIALS_PREVIOUS_KEYS), undefined without a key. */
export function credentialsCipherOf(env: {
  EHR_CREDENTIALS_KEY?: string;
  EHR_CREDENTIALS_PREVIOUS_KEYS?: string;
}): CredentialsCipher | undefined {
  if (!env.EHR_CREDENTIALS_KEY) return undefined;
  return new CredentialsCipher(
    env.EHR_CREDENTIALS_KEY,
    (env.EHR_CREDENTIALS_PREVIOUS_KEYS ?? '').split(','),
  );
}
