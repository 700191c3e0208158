import fc from 'fast-check';
import { Client } from 'pg';
import { testEnv } from '@carerelay/testing';

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export type Send = (
  method: string,
  path: string,
  body?: string,
  contentType?: string,
) => Promise<Answer>;

/**
 * One service's HTTP client: every request of the tests goes through the `send` this returns,
 * so credentials (when the services ask for them) are one header added here.
 */
export function serviceClient(
  baseUrl: string,
  headers: Record<string, string> | (() => Promise<Record<string, string>>) = {},
): Send {
  return async (method, path, body, contentType = 'application/json') => {
    const auth = typeof headers === 'function' ? await headers() : headers;
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { ...auth, ...(body !== undefined ? { 'content-type': contentType } : {}) },
      body,
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: response.status, headers: response.headers, text, body: parsed };
  };
}

/** A 4xx of a service API: RFC 9457 problem+json with type, title, status and detail. */
export function expectProblem(answer: Answer, status?: number): void {
  if (status !== undefined) expect(answer.status).toBe(status);
  expect(answer.status).toBeGreaterThanOrEqual(400);
  expect(answer.status).toBeLessThan(500);
  expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(answer.body).toEqual(
    expect.objectContaining({
      type: expect.any(String),
      title: expect.any(String),
      status: answer.status,
      detail: expect.any(String),
    }),
  );
}

/** Row counts of the given tables of a schema (what a refused request must leave unchanged). */
export async function rowCounts(schema: string, tables: string[]): Promise<Record<string, number>> {
  const client = new Client({ connectionString: testEnv().DATABASE_URL });
  await client.connect();
  try {
    const counts: Record<string, number> = {};
    for (const table of tables) {
      const { rows } = await client.query(`SELECT count(*)::int AS n FROM "${schema}"."${table}"`);
      counts[table] = rows[0].n;
    }
    return counts;
  } finally {
    await client.end();
  }
}

/** Percent-encodes UTF-8 as a client would (lone surrogates become U+FFFD, as in any encoder). */
export const encodeSegment = (text: string): string =>
  [...Buffer.from(text, 'utf8')]
    .map((b) =>
      /[A-Za-z0-9\-._~]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');

/** Strings an attacker tries: NUL, lone surrogates (raw and as bytes), controls, huge, unicode. */
export const hostileText: fc.Arbitrary<string> = fc.oneof(
  fc.string(),
  fc.fullUnicodeString({ maxLength: 20 }),
  fc.constantFrom(
    '\u0000',
    'a\u0000b',
    'a\ud800b',
    '\udc00',
    '%00',
    '%ED%A0%80',
    '../../etc/passwd',
    "' OR 1=1 --",
    '${jndi:ldap://x}',
    '__proto__',
    'constructor',
    '\r\nX-Injected: 1',
    'x'.repeat(5000),
    '9'.repeat(400),
    '-1',
    '1e309',
    'NaN',
    '2025-02-30',
    '',
  ),
);

/** Hostile JSON values: deep, NUL-bearing, wrong types, prototype keys. */
export const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.dictionary(hostileText, fc.oneof(hostileText, fc.integer(), fc.boolean(), fc.constant(null))),
  fc.constant(JSON.parse('{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}')),
);

/** A body as sent: JSON of a hostile value, or text that is not JSON at all. */
export const hostileBody: fc.Arbitrary<string | undefined> = fc.oneof(
  hostileJson.map((v) => JSON.stringify(v)),
  fc.constantFrom(undefined, '', '{', '{"a":', 'null', '[]', '"\\u0000"', '{"a":"\\ud800"}'),
  fc.integer({ min: 65, max: 10_000 }).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)),
  fc.integer({ min: 65, max: 10_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
);

export const methods = fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE');
