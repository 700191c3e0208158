import { createHash, randomBytes } from 'node:crypto';
import { CompactEncrypt, compactDecrypt } from 'jose';
import { badRequest, pageQuery } from '@carerelay/fhir';
import type { KeysetPosition } from '../store/search.repository';

/** What a cursor holds: the search it belongs to (a digest) and a position in its order. */
interface CursorPayload {
  /** sha256 of searchScope: a cursor is refused with another search. */
  s: string;
  d: KeysetPosition['direction'];
  k: KeysetPosition['key'];
  /** The horizon a poll's first page read up to (history with `_since`). */
  h?: string;
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
    if (position.horizon !== undefined) payload.h = position.horizon;
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
    if (!keyOk || (payload.h !== undefined && typeof payload.h !== 'string')) throw invalid();
    const position: KeysetPosition = { direction: payload.d, key: payload.k };
    if (payload.h !== undefined) position.horizon = payload.h;
    return position;
  }

  /**
   * Keyset paging links: `next` reads on after the page's last row, `previous` back from its
   * first, `last` back from the end, `first` from the start; each is the same query with a cursor
   * instead of an offset, so rows written or deleted between two pages shift nothing: none is
   * skipped or shown twice. `horizon` (a poll's) goes into every cursor, so that all the pages
   * of a walk read one listing. `url` makes the link of a query.
   */
  async pageLinks(
    url: (params: URLSearchParams) => string,
    scope: string,
    query: URLSearchParams,
    page: { count: number; cursor?: string; offset: number; countOnly?: boolean },
    keyset: KeysetPosition | undefined,
    found: { keys: (string | null)[][]; more: boolean },
    horizon?: string,
  ): Promise<{ relation: string; url: string }[]> {
    const { count } = page;
    const self = pageQuery(query, { count, cursor: page.cursor, offset: page.offset });
    const links = [{ relation: 'self', url: url(self) }];
    if (page.countOnly || count === 0) return links;
    const at = async (direction: KeysetPosition['direction'], key: KeysetPosition['key']) => {
      const position: KeysetPosition = { direction, key };
      if (horizon !== undefined) position.horizon = horizon;
      return url(pageQuery(query, { count, cursor: await this.encode(scope, position) }));
    };
    links.push({ relation: 'first', url: url(pageQuery(query, { count })) });
    const backwards = keyset?.direction === 'before';
    // An empty page (its rows deleted meanwhile) continues from the position it was asked for.
    const firstKey = found.keys[0] ?? keyset?.key ?? null;
    const lastKey = found.keys[found.keys.length - 1] ?? keyset?.key ?? null;
    const hasPrevious = backwards ? found.more : keyset !== undefined || page.offset > 0;
    const hasNext = backwards ? keyset.key !== null : found.more;
    if (hasPrevious && firstKey)
      links.push({ relation: 'previous', url: await at('before', firstKey) });
    if (hasNext && lastKey) links.push({ relation: 'next', url: await at('after', lastKey) });
    links.push({ relation: 'last', url: await at('before', null) });
    return links;
  }
}
