import { Controller, Inject, Logger } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import type { CloudEvent, DirectoryEventV1 } from '@carerelay/contracts';
import { EventTypes } from '@carerelay/contracts';
import {
  sampleZipCentroids,
  toFhirCoverageAreaLocations,
  toFhirHealthcareService,
  toFhirLocation,
  toFhirOrganization,
  type FhirMappingOptions,
  type Location,
  type Organization,
  type Service,
} from '@carerelay/directory';
import { FhirApiClient, type Resource } from '@carerelay/fhir-client';

export const DIRECTORY_FHIR_CLIENT = Symbol('DIRECTORY_FHIR_CLIENT');
export const DIRECTORY_EVENT_SOURCE = Symbol('DIRECTORY_EVENT_SOURCE');

const MAPPING: FhirMappingOptions = { zipCentroids: sampleZipCentroids() };

/** The FHIR resources that show one directory entry (a service brings its coverage areas). */
export function fhirResourcesOf(event: CloudEvent<DirectoryEventV1>): Resource[] {
  const record = event.data.record;
  switch (event.type) {
    case EventTypes.directoryOrganizationUpserted.type:
      return [toFhirOrganization(record as unknown as Organization)];
    case EventTypes.directoryLocationUpserted.type:
      return [toFhirLocation(record as unknown as Location, MAPPING)];
    case EventTypes.directoryServiceUpserted.type:
    case EventTypes.directoryCapacityChanged.type: {
      const service = record as unknown as Service;
      return [
        ...toFhirCoverageAreaLocations(service, MAPPING),
        toFhirHealthcareService(service, MAPPING),
      ];
    }
    default:
      return [];
  }
}

/** A transaction of PUTs (update as create, with the directory's ids): idempotent. */
export function fhirTransactionOf(resources: Resource[]): Resource {
  const seen = new Set<string>();
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: resources
      .filter((r) => {
        const url = `${r.resourceType}/${r.id}`;
        if (seen.has(url)) return false;
        seen.add(url);
        return true;
      })
      .map((resource) => ({
        resource,
        request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` },
      })),
  };
}

/**
 * Keeps the FHIR API's directory (Organization, HealthcareService with the IG's capacity status,
 * Location) in step with this service's own directory.events.v1, as the platform's system client.
 * Each event becomes one transaction of PUTs, so a redelivery rewrites the same resources. Events
 * of other producers on the topic are not this service's to publish and are skipped.
 */
@Controller()
export class DirectoryFhirPublisher {
  private readonly logger = new Logger('DirectoryFhirPublisher');

  constructor(
    @Inject(DIRECTORY_FHIR_CLIENT) private readonly fhir: FhirApiClient,
    @Inject(DIRECTORY_EVENT_SOURCE) private readonly source: string,
  ) {}

  private async publish(event: CloudEvent<DirectoryEventV1>): Promise<void> {
    if (event.source !== this.source) return;
    const resources = fhirResourcesOf(event);
    if (resources.length === 0) return;
    await this.fhir.transaction(fhirTransactionOf(resources));
    this.logger.debug?.(
      `${event.type} ${event.subject ?? ''}: ${resources.length} resource(s) put`,
    );
  }

  @EventPattern(EventTypes.directoryOrganizationUpserted.type)
  onOrganization(@Payload() event: CloudEvent<DirectoryEventV1>) {
    return this.publish(event);
  }

  @EventPattern(EventTypes.directoryLocationUpserted.type)
  onLocation(@Payload() event: CloudEvent<DirectoryEventV1>) {
    return this.publish(event);
  }

  @EventPattern(EventTypes.directoryServiceUpserted.type)
  onService(@Payload() event: CloudEvent<DirectoryEventV1>) {
    return this.publish(event);
  }

  @EventPattern(EventTypes.directoryCapacityChanged.type)
  onCapacity(@Payload() event: CloudEvent<DirectoryEventV1>) {
    return this.publish(event);
  }
}
