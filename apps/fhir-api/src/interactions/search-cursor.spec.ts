import { randomBytes } from 'node:crypto';
import { FhirError } from '@carerelay/fhir';
import { SearchCursors } from './search-cursor';

const SCOPE = 'Patient?name=smith&_sort=birthdate';

async function status(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof FhirError) return error.status;
    throw error;
  }
  return 200;
}

describe('SearchCursors', () => {
  const cursors = new SearchCursors(randomBytes(32));

  it('gives back the position it was given, for the same search', async () => {
    const position = {
      direction: 'after' as const,
      key: ['1961-04-12T00:00:00.000000Z', null, 'p1'],
    };
    const cursor = await cursors.encode(SCOPE, position);
    expect(cursor).toMatch(/^[A-Za-z0-9_.-]+$/);
    await expect(cursors.decode(SCOPE, cursor)).resolves.toEqual(position);
    const last = await cursors.encode(SCOPE, { direction: 'before', key: null });
    await expect(cursors.decode(SCOPE, last)).resolves.toEqual({ direction: 'before', key: null });
  });

  it('hides the sort values it carries', async () => {
    const cursor = await cursors.encode(SCOPE, { direction: 'after', key: ['smith, jane', 'p1'] });
    const readable = cursor
      .split('.')
      .map((part) => Buffer.from(part, 'base64url').toString('latin1'))
      .join();
    expect(readable).not.toContain('smith');
  });

  it('refuses (400) a cursor of another search, a changed one, or one of another key', async () => {
    const cursor = await cursors.encode(SCOPE, { direction: 'after', key: ['x', 'p1'] });
    expect(await status(cursors.decode('Patient?name=jones&_sort=birthdate', cursor))).toBe(400);
    const i = cursor.length - 3;
    const changed = cursor.slice(0, i) + (cursor[i] === 'A' ? 'B' : 'A') + cursor.slice(i + 1);
    expect(await status(cursors.decode(SCOPE, changed))).toBe(400);
    expect(await status(new SearchCursors(randomBytes(32)).decode(SCOPE, cursor))).toBe(400);
    expect(await status(cursors.decode(SCOPE, 'abc'))).toBe(400);
  });
});
