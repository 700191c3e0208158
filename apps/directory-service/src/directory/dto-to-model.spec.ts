import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { LocationDto, OrganizationDto, ServiceDto } from '../http/directory.dto';
import {
  sameCapacity,
  serviceColumns,
  toLocation,
  toOrganization,
  toService,
} from './dto-to-model';

const now = new Date('2026-03-02T10:00:00.000Z');

describe('request bodies → the libs/directory model', () => {
  it('maps a service: languages to BCP-47, ZIP+4 to five digits, defaults filled, no undefined keys', () => {
    const dto = plainToInstance(ServiceDto, {
      organizationId: 'org-1',
      name: '  Pantry ',
      categories: ['food-insecurity', 'food-insecurity'],
      languages: ['Spanish', 'ES-mx', 'spa', 'vie'],
      serviceAreas: [
        { kind: 'postal-codes', postalCodes: ['60623-1234', '60623', '60608'] },
        { kind: 'radius', center: { lat: 41.85, lon: -87.7 }, radiusKm: 5, postalCodes: ['1'] },
      ],
      eligibility: { rules: [{ attribute: 'household-size', op: 'lte', value: 6, values: [1] }] },
      schedule: [{ days: ['mon', 'mon', 'tue'], opensAt: '09:00', closesAt: '17:00' }],
    });
    const service = toService(dto, 'svc-1', now);
    expect(service).toEqual({
      id: 'svc-1',
      organizationId: 'org-1',
      name: 'Pantry',
      status: 'active',
      categories: ['food-insecurity'],
      codes: [],
      languages: ['es', 'es-MX', 'vi'],
      serviceAreas: [
        { kind: 'postal-codes', postalCodes: ['60623', '60608'] },
        { kind: 'radius', center: { lat: 41.85, lon: -87.7 }, radiusKm: 5 },
      ],
      eligibility: { rules: [{ attribute: 'household-size', op: 'lte', value: 6 }] },
      schedule: [{ days: ['mon', 'tue'], opensAt: '09:00', closesAt: '17:00' }],
      capacity: { status: 'available' },
      locationIds: [],
    });
    expect(JSON.stringify(service)).not.toContain('undefined');
    expect(serviceColumns(service)).toEqual({
      postalCodes: ['60623', '60608'],
      languages: ['es', 'es-mx', 'vi'],
    });
  });

  it('stamps a capacity with the time of the request unless it says when', () => {
    const dto = plainToInstance(ServiceDto, {
      organizationId: 'org-1',
      name: 'Beds',
      categories: ['homelessness'],
      capacity: { status: 'no-capacity', notes: 'full tonight' },
    });
    expect(toService(dto, 'svc-2', now).capacity).toEqual({
      status: 'no-capacity',
      notes: 'full tonight',
      updatedAt: now.toISOString(),
    });
    expect(
      sameCapacity(
        { status: 'waitlist', notes: 'x', updatedAt: '2026-01-01T00:00:00.000Z' },
        { notes: 'x', status: 'waitlist' },
      ),
    ).toBe(true);
    expect(sameCapacity({ status: 'waitlist' }, { status: 'available' })).toBe(false);
  });

  it('maps organizations and locations', () => {
    expect(
      toOrganization(
        plainToInstance(OrganizationDto, {
          name: 'Org',
          networks: ['a', 'a', 'b'],
          identifiers: [{ system: 'urn:oid:2.16.840.1.113883.4.4', value: '36-1' }],
        }),
        'org-1',
      ),
    ).toEqual({
      id: 'org-1',
      name: 'Org',
      networks: ['a', 'b'],
      identifiers: [{ system: 'urn:oid:2.16.840.1.113883.4.4', value: '36-1' }],
    });
    expect(
      toLocation(
        plainToInstance(LocationDto, {
          organizationId: 'org-1',
          name: 'Site',
          address: { line: ['1 Main St '], city: 'Chicago', state: 'IL', postalCode: '606231234' },
        }),
        'loc-1',
      ),
    ).toEqual({
      id: 'loc-1',
      organizationId: 'org-1',
      name: 'Site',
      address: {
        line: ['1 Main St'],
        city: 'Chicago',
        state: 'IL',
        postalCode: '60623',
        country: 'US',
      },
    });
  });
});
