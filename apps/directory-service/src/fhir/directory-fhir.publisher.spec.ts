import { EventTypes, newCloudEvent, type DirectoryEventV1 } from '@carerelay/contracts';
import {
  SDOHCC_CAPACITY_STATUS_EXTENSION,
  generateSampleDirectory,
  type Service,
} from '@carerelay/directory';
import {
  FhirApiClient,
  FhirRequestError,
  type Resource,
  isTransientFhirError,
} from '@carerelay/fhir-client';
import {
  DirectoryFhirPublisher,
  fhirResourcesOf,
  fhirTransactionOf,
} from './directory-fhir.publisher';

const sample = generateSampleDirectory({ seed: 1 });
const SOURCE = '/carerelay/directory-service';

const event = (type: string, record: object, organizationId: string, source = SOURCE) =>
  newCloudEvent<DirectoryEventV1>({
    source,
    type,
    data: {
      organizationId,
      occurredAt: new Date().toISOString(),
      record: record as Record<string, unknown>,
    },
  });

describe('the FHIR view of directory events', () => {
  const service: Service = {
    ...sample.services[0],
    serviceAreas: [
      { kind: 'postal-codes', postalCodes: ['60623', '60608'] },
      { kind: 'radius', center: { lat: 41.85, lon: -87.7 }, radiusKm: 4 },
    ],
    capacity: { status: 'waitlist', notes: '12 households waiting' },
  };

  it('a capacity change becomes the HealthcareService with the IG capacity status and its coverage areas', () => {
    const resources = fhirResourcesOf(
      event(EventTypes.directoryCapacityChanged.type, service, service.organizationId),
    );
    expect(resources.map((r) => `${r.resourceType}/${r.id}`)).toEqual([
      'Location/zip-60623',
      'Location/zip-60608',
      `Location/${service.id}-area-1`,
      `HealthcareService/${service.id}`,
    ]);
    const healthcareService = resources[3];
    const extension = healthcareService.extension.find(
      (e: { url: string }) => e.url === SDOHCC_CAPACITY_STATUS_EXTENSION,
    );
    expect(extension.extension[0].valueCodeableConcept.coding[0].code).toBe(
      'no-capacity-has-waitlist',
    );
    expect(resources[0].position).toBeDefined(); // the sample region's ZIP centroid
  });

  it('organizations and locations map one to one; the transaction is PUTs with the directory ids, deduplicated', () => {
    const org = fhirResourcesOf(
      event(
        EventTypes.directoryOrganizationUpserted.type,
        sample.organizations[0],
        sample.organizations[0].id,
      ),
    );
    expect(org).toHaveLength(1);
    expect(org[0]).toMatchObject({ resourceType: 'Organization', id: sample.organizations[0].id });
    const location = fhirResourcesOf(
      event(
        EventTypes.directoryLocationUpserted.type,
        sample.locations[0],
        sample.locations[0].organizationId,
      ),
    );
    expect(location[0]).toMatchObject({ resourceType: 'Location', id: sample.locations[0].id });

    const bundle = fhirTransactionOf([...location, ...location, ...org]);
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'transaction' });
    expect(bundle.entry.map((e: { request: object }) => e.request)).toEqual([
      { method: 'PUT', url: `Location/${sample.locations[0].id}` },
      { method: 'PUT', url: `Organization/${sample.organizations[0].id}` },
    ]);
  });

  it("publishes only this service's own events", async () => {
    const transaction = jest.fn(async (bundle: Resource) => bundle);
    const publisher = new DirectoryFhirPublisher(
      { transaction } as unknown as FhirApiClient,
      SOURCE,
    );
    const org = sample.organizations[0];
    await publisher.onOrganization(
      event(EventTypes.directoryOrganizationUpserted.type, org, org.id, '/carerelay/test'),
    );
    expect(transaction).not.toHaveBeenCalled();
    await publisher.onOrganization(
      event(EventTypes.directoryOrganizationUpserted.type, org, org.id),
    );
    expect(transaction).toHaveBeenCalledTimes(1);
  });

  it('retries an unavailable FHIR API instead of dead-lettering; a refusal is not transient', () => {
    expect(isTransientFhirError(new FhirRequestError(0, undefined, 'ECONNREFUSED'))).toBe(true);
    expect(isTransientFhirError(new FhirRequestError(503, undefined, 'unavailable'))).toBe(true);
    expect(isTransientFhirError(new FhirRequestError(429, undefined, 'slow down'))).toBe(true);
    expect(isTransientFhirError(new FhirRequestError(400, undefined, 'invalid'))).toBe(false);
    expect(isTransientFhirError(new FhirRequestError(403, undefined, 'forbidden'))).toBe(false);
    expect(isTransientFhirError(new Error('bug'))).toBe(false);
  });
});
