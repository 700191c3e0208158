import { EventTypes, type DirectoryEventV1 } from '@carerelay/contracts';
import {
  SAMPLE_DIRECTORY_SEED,
  generateSampleDirectory,
  generateSampleHsds,
  type HsdsDocument,
  type Organization,
  type Service,
} from '@carerelay/directory';
import { dropSchema } from '@carerelay/persistence';
import { CollectedMessage, testEnv, waitFor } from '@carerelay/testing';
import {
  RunningDirectory,
  collectDirectoryEvents,
  http,
  sleep,
  startTestDirectory,
} from './directory-test-kit';

interface ImportSummary {
  organizations: { created: number; updated: number; unchanged: number };
  locations: { created: number; updated: number; unchanged: number };
  services: { created: number; updated: number; unchanged: number };
  events: number;
  warnings: unknown[];
}

interface Refusal {
  message: string[];
  fields: string[];
  errors: Array<{ path: string; record?: string; message: string }>;
}

/** HSDS 3.0 import (all or nothing), export, and seeding the sample, on real PostgreSQL and Kafka. */
describe('directory-service HSDS import, export and sample seeding', () => {
  jest.setTimeout(180_000);
  const sample = generateSampleDirectory({ seed: SAMPLE_DIRECTORY_SEED });
  let directory: RunningDirectory;
  let events: { messages: CollectedMessage[]; stop: () => Promise<void> };

  /** What this instance published (other runs may publish the same sample ids). */
  const own = async () => {
    const ids = await directory.ownEventIds();
    return events.messages.filter((m) => ids.has(m.headers.ce_id));
  };

  beforeAll(async () => {
    events = await collectDirectoryEvents();
    directory = await startTestDirectory();
  });

  afterAll(async () => {
    await events?.stop();
    await directory?.stop();
  });

  it('imports the sample directory (≥ 200 services, ≥ 50 ZIPs): every entry stored and published', async () => {
    const document = generateSampleHsds({ seed: SAMPLE_DIRECTORY_SEED });
    const response = await http<ImportSummary>(directory.url, 'POST', '/import/hsds', document);
    expect(response.status).toBe(200);
    const { organizations, locations, services } = sample;
    expect(services.length).toBeGreaterThanOrEqual(200);
    expect(response.body.organizations.created).toBe(organizations.length);
    expect(response.body.locations.created).toBe(locations.length);
    expect(response.body.services.created).toBe(services.length);
    const total = organizations.length + locations.length + services.length;
    expect(response.body.events).toBe(total);

    const stored = await http<Service[]>(directory.url, 'GET', '/services');
    expect(stored.body).toHaveLength(services.length);
    expect(stored.body).toEqual([...services].sort((a, b) => (a.id < b.id ? -1 : 1)));
    const zips = new Set(
      stored.body.flatMap((s) =>
        s.serviceAreas.flatMap((a) => (a.kind === 'postal-codes' ? a.postalCodes : [])),
      ),
    );
    expect(zips.size).toBeGreaterThanOrEqual(50);
    expect((await http<Organization[]>(directory.url, 'GET', '/organizations')).body).toHaveLength(
      organizations.length,
    );

    const published = await waitFor(
      async () => {
        const mine = await own();
        return mine.length >= total && mine;
      },
      { timeoutMs: 60_000, what: `${total} published events` },
    );
    expect(published).toHaveLength(total);
    const byType = (type: string) => published.filter((m) => m.headers.ce_type === type);
    expect(byType(EventTypes.directoryOrganizationUpserted.type)).toHaveLength(
      organizations.length,
    );
    expect(byType(EventTypes.directoryLocationUpserted.type)).toHaveLength(locations.length);
    expect(byType(EventTypes.directoryServiceUpserted.type)).toHaveLength(services.length);
    const servicesSeen = new Map(
      byType(EventTypes.directoryServiceUpserted.type).map((m) => {
        const data = JSON.parse(m.value as string) as DirectoryEventV1;
        expect(m.key).toBe(data.organizationId);
        return [data.serviceId, data.record];
      }),
    );
    for (const service of services) expect(servicesSeen.get(service.id)).toEqual(service);

    // The same document again changes nothing and announces nothing.
    const again = await http<ImportSummary>(directory.url, 'POST', '/import/hsds', document);
    expect(again.status).toBe(200);
    expect(again.body.events).toBe(0);
    expect(again.body.services.unchanged).toBe(services.length);
    await sleep(1000);
    expect(await own()).toHaveLength(total);
  });

  it('exports what it holds as HSDS 3.0 that imports back to the same directory', async () => {
    const exported = await http<HsdsDocument>(directory.url, 'GET', '/export/hsds');
    expect(exported.status).toBe(200);
    expect(exported.body.organizations).toHaveLength(sample.organizations.length);
    expect(exported.body).toEqual(generateSampleHsds({ seed: SAMPLE_DIRECTORY_SEED }));
  });

  it('refuses a malformed document with 400 naming the JSON path, storing and publishing nothing', async () => {
    const before = (await directory.ownEventIds()).size;
    const malformed = {
      organizations: [
        { id: 'org-new-1', name: 'Fine so far', services: [] },
        {
          id: 'org-new-2',
          name: 'Broken',
          services: [{ id: 'svc-new-2', name: 'Y', status: 'active', languages: [{ code: 42 }] }],
          locations: [{ id: 'loc-new-2', name: 'L', latitude: 'north' }],
        },
      ],
    };
    const refused = await http<Refusal>(directory.url, 'POST', '/import/hsds', malformed);
    expect(refused.status).toBe(400);
    expect(refused.body.fields).toEqual(
      expect.arrayContaining([
        'organizations[1].services[0].languages[0].code',
        'organizations[1].locations[0].latitude',
      ]),
    );
    expect(refused.body.errors[0]).toMatchObject({ record: 'service "svc-new-2"' });

    // Well-formed HSDS whose id can't be a FHIR id: refused as a whole too, with the path.
    const badId = {
      organizations: [
        { id: 'org-new-3', name: 'Fine' },
        {
          id: 'org-new-4',
          name: 'Bad service id',
          services: [{ id: 'svc new 4', name: 'Z', status: 'active' }],
        },
      ],
    };
    const refusedId = await http<Refusal>(directory.url, 'POST', '/import/hsds', badId);
    expect(refusedId.status).toBe(400);
    expect(refusedId.body.fields).toEqual(['organizations[1].services[0].id']);

    const notJsonObject = await http<Refusal>(directory.url, 'POST', '/import/hsds', 'hello');
    expect(notJsonObject.status).toBe(400);

    for (const id of ['org-new-1', 'org-new-2', 'org-new-3', 'org-new-4']) {
      expect((await http(directory.url, 'GET', `/organizations/${id}`)).status).toBe(404);
    }
    expect((await http<Service[]>(directory.url, 'GET', '/services')).body).toHaveLength(
      sample.services.length,
    );
    await sleep(1000);
    expect((await directory.ownEventIds()).size).toBe(before);
  });

  it('seeds the sample once into an empty directory (DIRECTORY_SEED_SAMPLE=true), never again', async () => {
    const seeded = await startTestDirectory(
      { DIRECTORY_SEED_SAMPLE: 'true' },
      { keepSchema: true },
    );
    try {
      const services = await http<Service[]>(seeded.url, 'GET', '/services');
      expect(services.body).toHaveLength(sample.services.length);
      const firstEvents = (await seeded.ownEventIds()).size;
      expect(firstEvents).toBe(
        sample.organizations.length + sample.locations.length + sample.services.length,
      );
      // A coordinator removes an organization's services; a restart must not bring them back.
      const gone = sample.organizations[0].id;
      expect((await http(seeded.url, 'DELETE', `/organizations/${gone}`)).status).toBe(200);
      await seeded.app.close();
      const restarted = await startTestDirectory(
        { DIRECTORY_SEED_SAMPLE: 'true' },
        { schema: seeded.schema },
      );
      try {
        const active = await http<Service[]>(
          restarted.url,
          'GET',
          `/services?organizationId=${gone}&status=active`,
        );
        expect(active.body).toEqual([]);
        expect((await http(restarted.url, 'GET', '/organizations')).body).toHaveLength(
          sample.organizations.length - 1,
        );
      } finally {
        await restarted.stop();
      }
    } finally {
      await dropSchema(testEnv().DATABASE_URL, seeded.schema).catch(() => undefined);
    }
  });
});
