import type { Resource } from '@medplum/fhirtypes';
import type { StoredResource } from '../store/stored-resource.model';
import type { StoreTransaction } from '../store/store.transaction';

/** What an interaction answers: an HTTP status, a body, and the headers that go with it. */
export interface InteractionResult {
  status: number;
  body?: Resource;
  stored?: StoredResource;
  location?: string;
}

export const VERSIONED_RESOURCE_LOCATION = (base: string, s: StoredResource): string =>
  `${base}/${s.resourceType}/${s.id}/_history/${s.versionId}`;

/**
 * What the actor is shown of a stored resource it may read: StoreTransaction.disclose, the one
 * decision every channel applies (a CBO's Task without a covering consent comes back redacted).
 */
export async function view(tx: StoreTransaction, stored: StoredResource): Promise<StoredResource> {
  return (await tx.disclose(stored)) ?? stored;
}

/** What the actor is shown of each (those it is shown nothing of are left out). */
export async function viewAll(
  tx: StoreTransaction,
  list: StoredResource[],
  matchedOn?: readonly { param: string }[],
): Promise<StoredResource[]> {
  const shown = await Promise.all(list.map((s) => tx.disclose(s, { matchedOn })));
  return shown.filter((s): s is StoredResource => s !== undefined);
}

/** The answer of a create or update: the version stored, with its Location. */
export function found(base: string, stored: StoredResource, status: number): InteractionResult {
  return {
    status,
    body: stored.resource,
    stored,
    location: VERSIONED_RESOURCE_LOCATION(base, stored),
  };
}
