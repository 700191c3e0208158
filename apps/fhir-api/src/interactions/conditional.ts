import type { Resource } from '@medplum/fhirtypes';
import { badRequest, FhirError, parseSearchRequest, preconditionFailed } from '@carerelay/fhir';
import type { StoredResource } from '../store/stored-resource.model';
import type { StoreTransaction } from '../store/store.transaction';
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

export type ConditionalInteraction = 'create' | 'update' | 'delete';

export const severalMatches = (
  resourceType: string,
  query: URLSearchParams,
  interaction: ConditionalInteraction = 'create',
) =>
  preconditionFailed(
    `The conditional ${interaction} matched several ${resourceType} resources (${query.toString().slice(0, 200)}): make the criteria more selective`,
  );

/** The parsed criteria of a conditional interaction: at least one search parameter. */
function conditionalRequest(
  tx: StoreTransaction,
  resourceType: string,
  raw: string,
  interaction: ConditionalInteraction,
) {
  const query = conditionalQuery(resourceType, raw);
  const request = parseSearchRequest(resourceType, query, { localBaseUrls: tx.localBaseUrls });
  if (request.filters.length === 0) {
    throw badRequest(
      `A conditional ${interaction} needs at least one search parameter`,
      undefined,
      'value',
    );
  }
  return { query, request };
}

/**
 * The one resource the actor can see that matches a conditional delete's criteria, or undefined
 * when none does; several: 412 (this server deletes one resource at a time).
 */
export async function singleMatch(
  tx: StoreTransaction,
  resourceType: string,
  raw: string,
  interaction: ConditionalInteraction,
): Promise<StoredResource | undefined> {
  const { query, request } = conditionalRequest(tx, resourceType, raw, interaction);
  const ids = await tx.matchingIds(request, 2);
  if (ids.length > 1) throw severalMatches(resourceType, query, interaction);
  return ids.length === 0 ? undefined : tx.current(resourceType, ids[0]);
}

/**
 * Looks up the match of a conditional create (or of a conditional update, which creates when
 * nothing matches), claiming its key in the unique table when there
 * is none so that a concurrent twin waits for this transaction and then finds its resource.
 * Returns the existing resource, or undefined when `newId` may be created.
 */
export async function resolveConditional(
  tx: StoreTransaction,
  resourceType: string,
  ifNoneExist: string,
  newId: string,
  interaction: ConditionalInteraction = 'create',
): Promise<StoredResource | undefined> {
  const { query, request } = conditionalRequest(tx, resourceType, ifNoneExist, interaction);
  const find = async (): Promise<StoredResource | undefined | null> => {
    const ids = await tx.matchingIds(request, 2);
    if (ids.length > 1) throw severalMatches(resourceType, query, interaction);
    if (ids.length === 0) return null;
    return tx.current(resourceType, ids[0]);
  };
  const key = conditionalKey(tx.actor, query);
  const first = await tx.matchOrClaimConditionalKey(request, 2, key, newId);
  if (first.ids.length > 1) throw severalMatches(resourceType, query, interaction);
  if (first.claimed) return undefined;
  const match = first.ids.length === 1 ? await tx.current(resourceType, first.ids[0]) : undefined;
  if (match) return match;
  if (first.ids.length === 1 && (await tx.claimConditionalKey(resourceType, key, newId)))
    return undefined;
  // Another transaction holds (or held) the key: it has ended now; it may have created the match.
  for (let attempt = 0; attempt < 5; attempt++) {
    await tx.lockConditionalKey(resourceType, key);
    const again = await find();
    if (again) return again;
    if (await tx.moveConditionalKey(resourceType, key, newId)) return undefined;
  }
  throw new FhirError(409, [
    {
      severity: 'error',
      code: 'conflict',
      diagnostics: 'Concurrent conditional creates did not settle; retry',
    },
  ]);
}

/**
 * The id a conditional update (`PUT Type?criteria`, R4 3.1.0.4.3) acts on: its one visible match
 * (a body id must be that resource's: 400), else the body's id or a new one, claimed against
 * concurrent twins as conditional creates are (with If-Match and no match: 412). Several: 412.
 */
export async function conditionalUpdateTarget(
  tx: StoreTransaction,
  resourceType: string,
  criteria: string,
  input: Resource,
  ifMatch?: number,
): Promise<{ id: string; matched: boolean }> {
  const newId = input.id ?? tx.newId();
  const match = await resolveConditional(tx, resourceType, criteria, newId, 'update');
  if (match) {
    if (input.id !== undefined && input.id !== match.id)
      throw badRequest(
        `The resource id "${String(input.id).slice(0, 64)}" is not that of the resource the criteria matched`,
        `${resourceType}.id`,
        'value',
      );
    return { id: match.id, matched: true };
  }
  if (ifMatch !== undefined)
    throw preconditionFailed(`No ${resourceType} matches the criteria (If-Match)`);
  return { id: newId, matched: false };
}
