import { TOPICS } from '@carerelay/contracts';
import { SDOHCC_CAPACITY_STATUS_EXTENSION, type Service } from '@carerelay/directory';
import { FhirApiClient, Resource } from '@carerelay/fhir-client';
import { startGroupAtLatest, uniqueName, waitFor } from '@carerelay/testing';
import { startTestFhirApi, type TestFhirApi } from '../../apps/fhir-api/test/fhir-api.harness';
import {
  RunningDirectory,
  http,
  startTestDirectory,
} from '../../apps/directory-service/test/directory-test-kit';

const capacityCode = (resource: Resource): string | undefined =>
  resource.extension
    ?.find((e: { url: string }) => e.url === SDOHCC_CAPACITY_STATUS_EXTENSION)
    ?.extension?.find((e: { url: string }) => e.url === 'capacityStatus')?.valueCodeableConcept
    ?.coding?.[0]?.code;

/**
 * The FHIR publisher against a real in-process FHIR API: the directory's own events become
 * Organization, Location and HealthcareService (with the IG's capacity status extension).
 */
describe('directory-service FHIR publisher → fhir-api', () => {
  jest.setTimeout(180_000);
  const run = Date.now().toString(36);
  const orgId = `org-fhir-${run}`;
  const locationId = `loc-fhir-${run}`;
  const serviceId = `svc-fhir-${run}`;

  let fhirApi: TestFhirApi;
  let directory: RunningDirectory;
  let reader: FhirApiClient;

  const readWhen = (type: string, id: string, test: (r: Resource) => boolean, what: string) =>
    waitFor(
      async () => {
        const resource = await reader.read(type, id).catch(() => undefined);
        return resource && test(resource) && resource;
      },
      { timeoutMs: 60_000, intervalMs: 200, what },
    );

  beforeAll(async () => {
    fhirApi = await startTestFhirApi();
    const platform = new FhirApiClient(fhirApi.baseUrl, undefined, {
      customHeaders: { 'X-Dev-Actor': 'platform:carerelay-platform' },
    });
    reader = new FhirApiClient(fhirApi.baseUrl, undefined, {
      customHeaders: { 'X-Dev-Actor': 'coordinator:carerelay-platform' },
    });
    const groupId = uniqueName('directory-service-fhir');
    await startGroupAtLatest(groupId, [TOPICS.directoryEvents.name]);
    directory = await startTestDirectory({}, { fhirClient: platform, groupId });
  });

  afterAll(async () => {
    await directory?.stop();
    await fhirApi?.close();
  });

  it('puts Organization, Location and HealthcareService with the capacity status, and follows capacity changes', async () => {
    expect(
      (
        await http(directory.url, 'POST', '/organizations', {
          id: orgId,
          name: 'Northside Food Collective',
          networks: ['chicago-north'],
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await http(directory.url, 'POST', '/locations', {
          id: locationId,
          organizationId: orgId,
          name: 'Uptown pantry',
          address: { line: ['4600 N Broadway'], city: 'Chicago', state: 'IL', postalCode: '60640' },
          coordinates: { lat: 41.966, lon: -87.658 },
        })
      ).status,
    ).toBe(201);
    const created = await http<Service>(directory.url, 'POST', '/services', {
      id: serviceId,
      organizationId: orgId,
      name: 'Weekly groceries',
      categories: ['food-insecurity'],
      languages: ['en', 'es'],
      serviceAreas: [{ kind: 'postal-codes', postalCodes: ['60640', '60625'] }],
      capacity: { status: 'available', available: 20, maximum: 50, unit: 'households' },
      locationIds: [locationId],
    });
    expect(created.status).toBe(201);

    const organization = await readWhen('Organization', orgId, () => true, 'the Organization');
    expect(organization).toMatchObject({ name: 'Northside Food Collective', active: true });
    const location = await readWhen('Location', locationId, () => true, 'the Location');
    expect(location.address).toMatchObject({ postalCode: '60640', city: 'Chicago' });
    const service = await readWhen(
      'HealthcareService',
      serviceId,
      (r) => capacityCode(r) === 'capacity',
      'the HealthcareService with capacity',
    );
    expect(service).toMatchObject({
      active: true,
      name: 'Weekly groceries',
      providedBy: { reference: `Organization/${orgId}` },
      location: [{ reference: `Location/${locationId}` }],
    });
    expect(service.coverageArea.map((r: { reference: string }) => r.reference)).toEqual([
      'Location/zip-60640',
      'Location/zip-60625',
    ]);
    expect((await reader.read('Location', 'zip-60625')).address).toMatchObject({
      postalCode: '60625',
    });

    const patched = await http(directory.url, 'PATCH', `/services/${serviceId}/capacity`, {
      status: 'no-capacity',
    });
    expect(patched.status).toBe(200);
    await readWhen(
      'HealthcareService',
      serviceId,
      (r) => capacityCode(r) === 'no-capacity',
      'the HealthcareService without capacity',
    );
    await http(directory.url, 'PATCH', `/services/${serviceId}/capacity`, { status: 'waitlist' });
    await readWhen(
      'HealthcareService',
      serviceId,
      (r) => capacityCode(r) === 'no-capacity-has-waitlist',
      'the HealthcareService with a waitlist',
    );
  });

  it('republishing puts the same resources again (idempotent), and a deleted service becomes inactive', async () => {
    const before = await reader.read('HealthcareService', serviceId);
    expect((await http(directory.url, 'POST', '/admin/republish')).status).toBe(200);
    await http(directory.url, 'DELETE', `/services/${serviceId}`);
    const after = await readWhen(
      'HealthcareService',
      serviceId,
      (r) => r.active === false,
      'the inactive HealthcareService',
    );
    const strip = (r: Resource) => ({ ...r, meta: undefined, active: undefined });
    expect(strip(after)).toEqual(strip(before));
    const found = await reader.search('HealthcareService', { _id: serviceId });
    expect(found.entry).toHaveLength(1);
  });
});
