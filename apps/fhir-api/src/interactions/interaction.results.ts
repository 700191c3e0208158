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
 * What the actor is shown of a stored resource it wrote or matched: StoreTransaction.disclose, the
 * one decision every channel applies (a CBO's Task without a covering consent comes back
 * redacted). A resource the consent decision withholds is answered without its content.
 */
export async function view(tx: StoreTransaction, stored: StoredResource): Promise<StoredResource> {
  return (await tx.disclose(stored)) ?? { ...stored, resource: withoutContent(stored.resource) };
}

const withoutContent = (resource: Resource): Resource =>
  ({ resourceType: resource.resourceType, id: resource.id, meta: resource.meta }) as Resource;

/** What the actor is shown of each (those it is shown nothing of are left out). */
export function viewAll(
  tx: StoreTransaction,
  list: StoredResource[],
  matchedOn?: readonly { param: string }[],
): Promise<StoredResource[]> {
  return tx.discloseAll(list, { matchedOn });
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
