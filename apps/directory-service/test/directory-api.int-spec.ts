import { EventTypes, type DirectoryEventV1 } from '@carerelay/contracts';
import type { Location, Organization, Service } from '@carerelay/directory';
import { CollectedMessage, waitFor } from '@carerelay/testing';
import {
  RunningDirectory,
  collectDirectoryEvents,
  http,
  sleep,
  kitTokenIssuer,
  startTestDirectory,
} from './directory-test-kit';

/**
 * The coordinators' API against real PostgreSQL and Kafka: each change stores the entry and
 * publishes exactly one directory event (type, key = organization id, the whole record).
 */
describe('directory-service HTTP API → directory.events.v1', () => {
  jest.setTimeout(120_000);
  const run = Date.now().toString(36);
  const orgId = `org-${run}`;
  const locationId = `loc-${run}`;
  const serviceId = `svc-${run}`;
  const zip = '60623';

  let directory: RunningDirectory;
  let events: { messages: CollectedMessage[]; stop: () => Promise<void> };

  const about = (id: string) =>
    events.messages.filter((m) => m.headers.ce_subject?.endsWith(`/${id}`));
  const data = (m: CollectedMessage) => JSON.parse(m.value as string) as DirectoryEventV1;
  const nthEvent = (id: string, n: number) =>
    waitFor(() => about(id).length >= n && about(id)[n - 1], { what: `event ${n} about ${id}` });

  const serviceBody = {
    id: serviceId,
    organizationId: orgId,
    name: 'Despensa del barrio',
    categories: ['food-insecurity'],
    codes: [
      {
        system: 'http://snomed.info/sct',
        code: '467771000124109',
        display: 'Assistance with application for food pantry program',
      },
    ],
    languages: ['Spanish', 'en'],
    serviceAreas: [
      { kind: 'postal-codes', postalCodes: [zip, '60608-1234'] },
      { kind: 'radius', center: { lat: 41.85, lon: -87.71 }, radiusKm: 3, locationId },
    ],
    eligibility: {
      minAge: 18,
      rules: [{ attribute: 'household-size', op: 'lte', value: 8, description: 'up to 8 people' }],
    },
    schedule: [{ days: ['mon', 'wed'], opensAt: '09:00', closesAt: '17:00' }],
    capacity: { status: 'available', available: 12, maximum: 40, unit: 'households' },
    locationIds: [locationId],
  };

  beforeAll(async () => {
    events = await collectDirectoryEvents();
    directory = await startTestDirectory();
  });

  afterAll(async () => {
    await events?.stop();
    await directory?.stop();
  });

  it('writes for the platform and operators only; every client of the network reads', async () => {
    const body = { id: `${orgId}-x`, name: 'Not ours', networks: ['chicago-south'] };
    const anonymous = await fetch(`${directory.url}/organizations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer /);
    const issuer = kitTokenIssuer();
    const cbo = await issuer.headers('cbo', 'some-cbo');
    expect((await http(directory.url, 'POST', '/organizations', body, cbo)).status).toBe(403);
    expect((await http(directory.url, 'POST', '/admin/republish', undefined, cbo)).status).toBe(
      403,
    );
    const foreignCoordinator = await issuer.headers('coordinator', 'some-network');
    expect(
      (await http(directory.url, 'POST', '/organizations', body, foreignCoordinator)).status,
    ).toBe(403);
    expect((await http(directory.url, 'GET', '/organizations', undefined, cbo)).status).toBe(200);
    expect((await http(directory.url, 'GET', `/organizations/${body.id}`)).status).toBe(404);
    const operator = await issuer.headers('coordinator', 'carerelay-platform');
    expect((await http(directory.url, 'GET', '/export/hsds', undefined, operator)).status).toBe(
      200,
    );
  });

  it('creates an organization, a location and a service: one event each, keyed by organization', async () => {
    const org = await http<Organization>(directory.url, 'POST', '/organizations', {
      id: orgId,
      name: 'Casa Comunitaria',
      networks: ['chicago-south'],
      identifiers: [{ system: 'urn:oid:2.16.840.1.113883.4.4', value: '36-1234567', type: 'EIN' }],
      website: 'https://casa.example.org',
    });
    expect(org.status).toBe(201);
    const location = await http<Location>(directory.url, 'POST', '/locations', {
      id: locationId,
      organizationId: orgId,
      name: 'Casa Comunitaria — Pilsen',
      address: { line: ['1800 S Blue Island Ave'], city: 'Chicago', state: 'IL', postalCode: zip },
      coordinates: { lat: 41.857, lon: -87.66 },
    });
    expect(location.status).toBe(201);
    expect(location.body.address?.country).toBe('US');
    const service = await http<Service>(directory.url, 'POST', '/services', serviceBody);
    expect(service.status).toBe(201);
    expect(service.body.languages).toEqual(['es', 'en']);
    expect(service.body.serviceAreas[0]).toEqual({
      kind: 'postal-codes',
      postalCodes: [zip, '60608'],
    });

    const orgEvent = await nthEvent(orgId, 1);
    expect(orgEvent.headers.ce_type).toBe(EventTypes.directoryOrganizationUpserted.type);
    expect(orgEvent.key).toBe(orgId);
    expect(data(orgEvent)).toMatchObject({ organizationId: orgId, record: org.body });

    const locationEvent = await nthEvent(locationId, 1);
    expect(locationEvent.headers.ce_type).toBe(EventTypes.directoryLocationUpserted.type);
    expect(locationEvent.key).toBe(orgId);
    expect(data(locationEvent).record).toEqual(location.body);

    const serviceEvent = await nthEvent(serviceId, 1);
    expect(serviceEvent.headers.ce_type).toBe(EventTypes.directoryServiceUpserted.type);
    expect(serviceEvent.key).toBe(orgId);
    expect(data(serviceEvent)).toMatchObject({
      organizationId: orgId,
      serviceId,
      record: service.body,
    });
    // Per organization, in the order of the changes.
    expect([orgEvent, locationEvent, serviceEvent].map((m) => m.partition)).toEqual([
      orgEvent.partition,
      orgEvent.partition,
      orgEvent.partition,
    ]);
    expect(Number(orgEvent.offset)).toBeLessThan(Number(locationEvent.offset));
    expect(Number(locationEvent.offset)).toBeLessThan(Number(serviceEvent.offset));
  });

  it('updates a service: one service-upserted event; the same body again publishes nothing', async () => {
    const updated = await http<Service>(directory.url, 'PUT', `/services/${serviceId}`, {
      ...serviceBody,
      name: 'Despensa del barrio (Pilsen)',
    });
    expect(updated.status).toBe(200);
    const event = await nthEvent(serviceId, 2);
    expect(event.headers.ce_type).toBe(EventTypes.directoryServiceUpserted.type);
    expect(event.key).toBe(orgId);
    expect(data(event).record).toEqual(updated.body);
    expect((data(event).record as unknown as Service).name).toBe('Despensa del barrio (Pilsen)');

    const again = await http(directory.url, 'PUT', `/services/${serviceId}`, {
      ...serviceBody,
      name: 'Despensa del barrio (Pilsen)',
    });
    expect(again.status).toBe(200);
    await sleep(1500);
    expect(about(serviceId)).toHaveLength(2);
  });

  it('changes the capacity: one capacity-changed event with the whole Service record', async () => {
    const changed = await http<Service>(directory.url, 'PATCH', `/services/${serviceId}/capacity`, {
      status: 'waitlist',
      notes: 'about 15 households waiting',
    });
    expect(changed.status).toBe(200);
    expect(changed.body.capacity.status).toBe('waitlist');
    const event = await nthEvent(serviceId, 3);
    expect(event.headers.ce_type).toBe(EventTypes.directoryCapacityChanged.type);
    expect(event.key).toBe(orgId);
    const payload = data(event);
    expect(payload.serviceId).toBe(serviceId);
    expect(payload.record).toEqual(changed.body);
    expect(payload.record).toMatchObject({
      name: 'Despensa del barrio (Pilsen)',
      languages: ['es', 'en'],
    });

    const same = await http(directory.url, 'PATCH', `/services/${serviceId}/capacity`, {
      status: 'waitlist',
      notes: 'about 15 households waiting',
    });
    expect(same.status).toBe(200);
    await sleep(1500);
    expect(about(serviceId)).toHaveLength(3);
  });

  it('lists services by category, ZIP and language', async () => {
    const list = async (query: string) =>
      (await http<Service[]>(directory.url, 'GET', `/services?${query}`)).body.map((s) => s.id);
    expect(await list(`category=food-insecurity&zip=${zip}&language=es`)).toEqual([serviceId]);
    expect(await list(`category=food-insecurity&zip=60608&language=es-MX`)).toEqual([serviceId]);
    expect(await list(`category=housing-instability`)).toEqual([]);
    expect(await list(`zip=60601`)).toEqual([]);
    expect(await list(`language=vi`)).toEqual([]);
    const bad = await http<{ fields: string[] }>(
      directory.url,
      'GET',
      '/services?category=food&zip=6062',
    );
    expect(bad.status).toBe(400);
    expect(bad.body.fields).toEqual(expect.arrayContaining(['category', 'zip']));
  });

  it('refuses an invalid body with 400 naming each nested field, storing and publishing nothing', async () => {
    const badId = `svc-bad-${run}`;
    const response = await http<{ message: string[]; fields: string[] }>(
      directory.url,
      'POST',
      '/services',
      {
        ...serviceBody,
        id: badId,
        languages: ['klingon!'],
        serviceAreas: [
          { kind: 'radius', center: { lat: 141, lon: 0 }, radiusKm: -1 },
          { kind: 'polygon' },
        ],
        eligibility: {
          minAge: 30,
          maxAge: 20,
          rules: [{ attribute: 'payer', op: 'between', value: 1 }],
        },
        schedule: [{ days: ['monday'], opensAt: '9am', closesAt: '17:00' }],
        capacity: { status: 'plenty' },
        surprise: true,
      },
    );
    expect(response.status).toBe(400);
    expect(response.body.fields).toEqual(
      expect.arrayContaining([
        'languages',
        'serviceAreas[0].center.lat',
        'serviceAreas[0].radiusKm',
        'serviceAreas[1].kind',
        'eligibility.maxAge',
        'eligibility.rules[0].op',
        'schedule[0].days',
        'schedule[0].opensAt',
        'capacity.status',
        'surprise',
      ]),
    );
    expect(response.body.message).toEqual(
      expect.arrayContaining([expect.stringMatching(/^serviceAreas\[0\]\.radiusKm /)]),
    );
    const unknownOrg = await http<{ fields: string[] }>(directory.url, 'POST', '/services', {
      ...serviceBody,
      id: badId,
      organizationId: `nobody-${run}`,
      locationIds: [],
      serviceAreas: [],
    });
    expect(unknownOrg.status).toBe(400);
    expect(unknownOrg.body.fields).toEqual(['organizationId']);
    const foreignLocation = await http<{ fields: string[] }>(directory.url, 'POST', '/services', {
      ...serviceBody,
      id: badId,
      locationIds: [locationId, `loc-nowhere-${run}`],
    });
    expect(foreignLocation.status).toBe(400);
    expect(foreignLocation.body.fields).toEqual(['locationIds[1]']);

    expect((await http(directory.url, 'GET', `/services/${badId}`)).status).toBe(404);
    await sleep(1000);
    expect(about(badId)).toHaveLength(0);
  });

  it('deletes a service by announcing it inactive; a used location cannot be deleted', async () => {
    expect((await http(directory.url, 'DELETE', `/locations/${locationId}`)).status).toBe(409);
    const deleted = await http<Service>(directory.url, 'DELETE', `/services/${serviceId}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body.status).toBe('inactive');
    const event = await nthEvent(serviceId, 4);
    expect(event.headers.ce_type).toBe(EventTypes.directoryServiceUpserted.type);
    expect((data(event).record as unknown as Service).status).toBe('inactive');
    const active = await http<Service[]>(
      directory.url,
      'GET',
      `/services?organizationId=${orgId}&status=active`,
    );
    expect(active.body).toEqual([]);
  });

  it('republishes every entry for a new consumer', async () => {
    const before = events.messages.length;
    const response = await http<{ events: number; services: number }>(
      directory.url,
      'POST',
      '/admin/republish',
    );
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ organizations: 1, locations: 1, services: 1, events: 3 });
    await waitFor(
      () =>
        about(orgId).length === 2 &&
        about(locationId).length === 2 &&
        about(serviceId).length === 5,
      {
        what: 'the republished events',
      },
    );
    expect(events.messages.length).toBeGreaterThanOrEqual(before + 3);
  });
});
