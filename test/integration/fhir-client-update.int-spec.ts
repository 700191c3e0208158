import { FhirApiClient, Resource } from '@carerelay/fhir-client';
import { uniqueName } from '@carerelay/testing';
import { startTestFhirApi, type TestFhirApi } from '../../apps/fhir-api/test/fhir-api.harness';

/** A platform client that records what it read. */
class CountingClient extends FhirApiClient {
  readonly reads: string[] = [];

  override read<T extends Resource = Resource>(resourceType: string, id: string): Promise<T> {
    this.reads.push(`${resourceType}/${id}`);
    return super.read<T>(resourceType, id);
  }
}

/**
 * updateWithIfMatch from a version the caller already holds, against the real FHIR API: the read
 * is saved when that version is current, and a stale one never overwrites another writer's work.
 */
describe('FhirApiClient.updateWithIfMatch with a known version', () => {
  jest.setTimeout(60_000);
  let fhirApi: TestFhirApi;
  let platform: CountingClient;
  let other: FhirApiClient;
  const actor = `platform:${uniqueName('platform').replace(/_/g, '-')}`;

  beforeAll(async () => {
    fhirApi = await startTestFhirApi();
    const options = { customHeaders: { 'X-Dev-Actor': actor } };
    platform = new CountingClient(fhirApi.baseUrl, undefined, options);
    other = new FhirApiClient(fhirApi.baseUrl, undefined, options);
  });

  afterAll(async () => {
    await fhirApi?.close();
  });

  // An Organization: the fewest required elements; the client treats every type alike.
  const newResource = () =>
    other.create<Resource>({ resourceType: 'Organization', name: uniqueName('org'), alias: ['a'] });
  const withAlias = (alias: string) => (org: Resource) =>
    org.alias?.[0] === alias ? undefined : { ...org, alias: [alias] };
  const setAlias = (id: string, alias: string, known?: Resource) =>
    platform.updateWithIfMatch('Organization', id, withAlias(alias), { known });

  it('starts from the known version without reading it when it is current', async () => {
    const created = await newResource();
    platform.reads.length = 0;
    const updated = await setAlias(created.id!, 'routed', created);
    expect(platform.reads).toEqual([]);
    expect(updated.meta?.versionId).toBe('2');
    expect((await other.read('Organization', created.id!)).alias).toEqual(['routed']);
  });

  it('reads the current version after a 412 and keeps the other writer’s change', async () => {
    const created = await newResource();
    await other.updateWithIfMatch('Organization', created.id!, (org) => ({
      ...org,
      telecom: [{ system: 'phone', value: '555-0100' }],
    }));
    platform.reads.length = 0;
    const updated = await setAlias(created.id!, 'routed', created);
    expect(platform.reads).toEqual([`Organization/${created.id}`]);
    expect(updated.meta?.versionId).toBe('3');
    expect(await other.read('Organization', created.id!)).toMatchObject({
      alias: ['routed'],
      telecom: [{ system: 'phone', value: '555-0100' }],
    });
  });

  it('does not trust a stale known version that says nothing needs changing', async () => {
    const created = await newResource();
    const routed = await setAlias(created.id!, 'routed');
    await other.updateWithIfMatch('Organization', created.id!, withAlias('other'));
    platform.reads.length = 0;
    const updated = await setAlias(created.id!, 'routed', routed);
    expect(platform.reads).toEqual([`Organization/${created.id}`]);
    expect(updated.meta?.versionId).toBe('4');
    expect((await other.read('Organization', created.id!)).alias).toEqual(['routed']);
  });
});
