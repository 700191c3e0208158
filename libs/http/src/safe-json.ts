/**
 * Input PostgreSQL cannot store or that no honest client sends: a NUL character (text and
 * jsonb refuse U+0000), a lone UTF-16 surrogate (jsonb refuses `\ud800`; it is no character),
 * or a document nested deeper than any of CareRelay's (recursive code would overflow its stack).
 * Found here, such input is refused as a 400 before it reaches validation or the database.
 */
export const DEFAULT_MAX_JSON_DEPTH = 64;

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why a string cannot be taken (undefined when it can). */
export function unsafeTextProblem(text: string): string | undefined {
  if (text.includes('\u0000')) return 'contains a NUL character';
  if (LONE_SURROGATE.test(text)) return 'contains an unpaired UTF-16 surrogate (not Unicode text)';
  return undefined;
}

export interface UnsafeJson {
  /** A JSON path of the offending member: `$.name[0].given[1]`. */
  path: string;
  problem: string;
}

/**
 * The first problem of a parsed JSON document (undefined when none): in any string or member
 * name, or a nesting deeper than `maxDepth`. Iterative, so a hostile depth cannot overflow.
 */
export function findUnsafeJson(
  value: unknown,
  maxDepth = DEFAULT_MAX_JSON_DEPTH,
): UnsafeJson | undefined {
  const stack: Array<{ value: unknown; path: string; depth: number }> = [
    { value, path: '$', depth: 0 },
  ];
  while (stack.length > 0) {
    const { value: current, path, depth } = stack.pop()!;
    if (typeof current === 'string') {
      const problem = unsafeTextProblem(current);
      if (problem) return { path, problem };
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (depth >= maxDepth) return { path, problem: `is nested deeper than ${maxDepth} levels` };
    if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--)
        stack.push({ value: current[i], path: `${path}[${i}]`, depth: depth + 1 });
      continue;
    }
    for (const [key, member] of Object.entries(current as Record<string, unknown>)) {
      const keyProblem = unsafeTextProblem(key);
      // The key itself is not echoed: it is what cannot be printed.
      if (keyProblem) return { path, problem: `has a member name that ${keyProblem}` };
      stack.push({ value: member, path: `${path}.${key}`, depth: depth + 1 });
    }
  }
  return undefined;
}
