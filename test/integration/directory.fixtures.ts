import {
  EventTypes,
  newCloudEvent,
  toKafkaRecord,
  type CloudEvent,
  type DirectoryEventV1,
  type EventTypeDefinition,
} from '@carerelay/contracts';
import type { Coding, Organization, Service } from '@carerelay/directory';
import { testKafka } from '@carerelay/testing';

/** Publishes one event as its producing service would (a test stands in for that service). */
export async function publishEvent<T>(definition: EventTypeDefinition<T>, data: T): Promise<void> {
  const event = newCloudEvent({ source: '/carerelay/test', type: definition.type, data });
  const producer = testKafka().producer();
  await producer.connect();
  try {
    await producer.send({
      topic: definition.topic,
      messages: [toKafkaRecord(event as CloudEvent, definition.keyOf(data))],
    });
  } finally {
    await producer.disconnect();
  }
}

export interface TestCbo {
  id: string;
  name: string;
  categories: Service['categories'];
  codes?: Coding[];
  languages?: string[];
}

const directoryEvent = (
  record: Organization | Service,
  organizationId: string,
): DirectoryEventV1 => ({
  organizationId,
  occurredAt: new Date().toISOString(),
  record: record as unknown as Record<string, unknown>,
});

/**
 * Puts CBOs in the directory as directory-service announces them: each organization and its one
 * service (`<id>-svc`), available, serving the postal code `zip`.
 */
export async function publishCbos(zip: string, cbos: TestCbo[]): Promise<void> {
  for (const cbo of cbos) {
    const organization: Organization = {
      id: cbo.id,
      name: cbo.name,
      networks: [],
      identifiers: [],
    };
    await publishEvent(
      EventTypes.directoryOrganizationUpserted,
      directoryEvent(organization, cbo.id),
    );
  }
  for (const cbo of cbos) {
    const service: Service = {
      id: `${cbo.id}-svc`,
      organizationId: cbo.id,
      name: `${cbo.id}-svc service`,
      status: 'active',
      categories: cbo.categories,
      codes: cbo.codes ?? [],
      languages: cbo.languages ?? ['en'],
      serviceAreas: [{ kind: 'postal-codes', postalCodes: [zip] }],
      eligibility: { rules: [] },
      schedule: [],
      capacity: { status: 'available' },
      locationIds: [],
    };
    await publishEvent(EventTypes.directoryServiceUpserted, directoryEvent(service, cbo.id));
  }
}
