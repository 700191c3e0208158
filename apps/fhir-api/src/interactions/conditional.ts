import { badRequest, preconditionFailed } from '@carerelay/fhir';
import type { RequestActor } from '../request-actor';

/**
 * The query of an `If-None-Exist` header or `ifNoneExist` entry: `identifier=a|b`, optionally
 * written `?identifier=…` or `Patient?identifier=…`.
 */
export function conditionalQuery(resourceType: string, raw: string): URLSearchParams {
  let query = raw.trim();
  if (query.startsWith(`${resourceType}?`)) query = query.slice(resourceType.length + 1);
  else if (query.startsWith('?')) query = query.slice(1);
  if (query === '' || /^[A-Z][A-Za-z]*\?/.test(query)) {
    throw badRequest(
      `Invalid conditional query ${JSON.stringify(raw.slice(0, 200))}`,
      undefined,
      'value',
    );
  }
  return new URLSearchParams(query);
}

/**
 * The key of a conditional create in the unique table: the actor's visibility scope and the
 * query with its parameters sorted, so that `a=1&b=2` and `b=2&a=1` are the same key.
 */
export function conditionalKey(actor: RequestActor, query: URLSearchParams): string {
  const sorted = new URLSearchParams(
    [...query.entries()].sort(([a, x], [b, y]) =>
      a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0,
    ),
  );
  const scope =
    actor.role === 'coordinator' || actor.role === 'platform' ? '*' : actor.organizationId;
  return `${scope} ${sorted.toString()}`;
}

export const severalMatches = (resourceType: string, query: URLSearchParams) =>
  preconditionFailed(
    `The conditional create matched several ${resourceType} resources (${query.toString().slice(0, 200)})`,
  );
