import { createHash, randomBytes } from 'node:crypto';
import { CompactEncrypt, compactDecrypt } from 'jose';
import { badRequest } from '@carerelay/fhir';
import type { KeysetPosition } from '../store/search.repository';

/** What a cursor holds: the search it belongs to (a digest) and a position in its order. */
interface CursorPayload {
  /** sha256 of searchScope: a cursor is refused with another search. */
  s: string;
  d: KeysetPosition['direction'];
  k: KeysetPosition['key'];
}

const invalid = () =>
  badRequest(
    'Invalid _cursor: use the links of a searchset Bundle, with the same search',
    undefined,
    'value',
  );

/**
 * The `_cursor` of searchset links: a keyset position (the sort key of the row a page ends on,
 * and which way to read). A sort key may be patient data (a name, a birth date), so the cursor is
 * encrypted and authenticated (JWE, dir + A256GCM, with jose): it tells nothing, and a changed or
 * forged one is refused (400) instead of read. It only says where the page starts: the page query
 * still applies every filter and the caller's read rule.
 */
export class SearchCursors {
  private readonly key: Uint8Array;

  /** `key`: 32 bytes; several instances behind one address must share it (else: per process). */
  constructor(key?: Uint8Array) {
    this.key = key ?? randomBytes(32);
    if (this.key.length !== 32) throw new Error('The search cursor key must be 32 bytes');
  }

  private static digest(scope: string): string {
    return createHash('sha256').update(scope).digest('base64url');
  }

  async encode(scope: string, position: KeysetPosition): Promise<string> {
    const payload: CursorPayload = {
      s: SearchCursors.digest(scope),
      d: position.direction,
      k: position.key,
    };
    return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(payload)))
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .encrypt(this.key);
  }

  /** The position of a cursor of this search; 400 for any other token. */
  async decode(scope: string, cursor: string): Promise<KeysetPosition> {
    let payload: CursorPayload;
    try {
      const { plaintext } = await compactDecrypt(cursor, this.key, {
        keyManagementAlgorithms: ['dir'],
        contentEncryptionAlgorithms: ['A256GCM'],
      });
      payload = JSON.parse(new TextDecoder().decode(plaintext)) as CursorPayload;
    } catch {
      throw invalid();
    }
    const keyOk =
      payload.k === null ||
      (Array.isArray(payload.k) && payload.k.every((v) => v === null || typeof v === 'string'));
    if (payload.s !== SearchCursors.digest(scope) || !['after', 'before'].includes(payload.d))
      throw invalid();
    if (!keyOk) throw invalid();
    return { direction: payload.d, key: payload.k };
  }
}
