import type { EntityManager } from 'typeorm';
import { EventTypes } from '@carerelay/contracts';
import type { OutboxWriter, PreparedOutboxEvent } from '@carerelay/messaging';
import { currentTraceparent } from '@carerelay/observability';
import type { StoredResource } from './stored-resource.model';
import { involvedOrganizations } from './visibility';

/** The `fhir.changes.v1` event of a version, for the transaction that stores it to write. */
export function resourceChangeEvent(
  outbox: OutboxWriter,
  manager: EntityManager,
  stored: StoredResource,
  previous: StoredResource | undefined,
): PreparedOutboxEvent<unknown> {
  const { resourceType, id } = stored;
  return outbox.prepare(
    manager,
    EventTypes.fhirResourceChanged,
    {
      resourceType,
      id,
      versionId: String(stored.versionId),
      action: stored.deleted ? 'delete' : previous && !previous.deleted ? 'update' : 'create',
      lastUpdated: stored.lastUpdated,
      organizations: involvedOrganizations(stored.orgs),
      resource: stored.resource as unknown as Record<string, unknown>,
    },
    {
      // The resource as the CloudEvents subject, the request's correlation id as its traceparent.
      subject: `${resourceType}/${id}`,
      traceparent: currentTraceparent(),
    },
  );
}
