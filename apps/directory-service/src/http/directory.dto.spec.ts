import 'reflect-metadata';
import { BadRequestException } from '@nestjs/common';
import {
  CapacityDto,
  LocationDto,
  OrganizationDto,
  ServiceDto,
  ServiceQueryDto,
} from './directory.dto';
import { strictValidation } from '@carerelay/http';

const pipe = strictValidation();

/** Runs the HTTP API's pipe on a body; the problems (fields and messages) when it refuses it. */
async function validate(
  metatype: new () => object,
  body: unknown,
): Promise<{ ok: true; value: object } | { ok: false; fields: string[]; messages: string[] }> {
  try {
    const value = (await pipe.transform(body, { type: 'body', metatype })) as object;
    return { ok: true, value };
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequestException);
    const response = (error as BadRequestException).getResponse() as {
      fields: string[];
      message: string[];
    };
    return { ok: false, fields: response.fields, messages: response.message };
  }
}

const service = {
  organizationId: 'org-1',
  name: 'Pantry',
  categories: ['food-insecurity'],
  languages: ['es', 'Vietnamese'],
  serviceAreas: [
    { kind: 'postal-codes', postalCodes: ['60623'] },
    { kind: 'radius', center: { lat: 41.85, lon: -87.7 }, radiusKm: 5, locationId: 'loc-1' },
  ],
  eligibility: {
    minAge: 18,
    maxAge: 64,
    rules: [
      { attribute: 'payer', op: 'in', values: ['medicaid', 'uninsured'] },
      { attribute: 'household-size', op: 'lte', value: 6 },
      { attribute: 'veteran', op: 'eq', value: true },
    ],
  },
  schedule: [{ days: ['mon', 'fri'], opensAt: '09:00', closesAt: '12:30' }],
  capacity: { status: 'waitlist', available: 0, maximum: 30, unit: 'households' },
  locationIds: ['loc-1'],
};

describe('directory DTOs (class-validator, as the HTTP API runs them)', () => {
  it('accepts a complete service', async () => {
    const result = await validate(ServiceDto, service);
    expect(result.ok).toBe(true);
  });

  it('names every nested field that is wrong, with array indexes', async () => {
    const result = await validate(ServiceDto, {
      ...service,
      categories: ['food-insecurity', 'hunger'],
      languages: ['es', '??'],
      serviceAreas: [
        { kind: 'postal-codes', postalCodes: ['6062'] },
        { kind: 'radius', center: { lat: 91, lon: -87.7 } },
        { kind: 'polygon' },
      ],
      eligibility: {
        minAge: 65,
        maxAge: 18,
        rules: [
          { attribute: 'payer', op: 'in', values: [] },
          { attribute: 'household-size', op: 'lte', value: 'six' },
          { attribute: 'Payer', op: 'eq', value: { nested: true } },
        ],
      },
      schedule: [{ days: ['mon', 'funday'], opensAt: '17:00', closesAt: '09:00' }],
      capacity: { status: 'full', available: -1 },
      locationIds: ['loc 1'],
      extra: 'x',
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.fields).toEqual(
      expect.arrayContaining([
        'categories',
        'languages',
        'serviceAreas[0].postalCodes',
        'serviceAreas[1].center.lat',
        'serviceAreas[1].radiusKm',
        'serviceAreas[2].kind',
        'eligibility.maxAge',
        'eligibility.rules[0].values',
        'eligibility.rules[1].value',
        'eligibility.rules[2].attribute',
        'eligibility.rules[2].value',
        'schedule[0].days',
        'schedule[0].closesAt',
        'capacity.status',
        'capacity.available',
        'locationIds',
        'extra',
      ]),
    );
    expect(result.messages).toEqual(
      expect.arrayContaining([
        'serviceAreas[1].radiusKm must not be less than 0.1',
        'eligibility.maxAge must not be less than minAge',
        'schedule[0].closesAt must be later than opensAt',
        'eligibility.rules[1].value must be a number for gt, gte, lt, lte',
      ]),
    );
  });

  it('requires what a service cannot do without', async () => {
    const result = await validate(ServiceDto, {});
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.fields).toEqual(expect.arrayContaining(['organizationId', 'name', 'categories']));
  });

  it('refuses unknown properties inside nested objects too', async () => {
    const result = await validate(ServiceDto, {
      ...service,
      capacity: { status: 'available', beds: 4 },
    });
    expect(result).toMatchObject({ ok: false, fields: ['capacity.beds'] });
  });

  it('validates organizations, locations and capacity bodies', async () => {
    expect(
      await validate(OrganizationDto, {
        id: 'org-1',
        name: 'Org',
        networks: ['net a'],
        identifiers: [{ value: '12' }],
        website: 'not a url',
      }),
    ).toMatchObject({
      ok: false,
      fields: expect.arrayContaining(['networks', 'identifiers[0].system', 'website']),
    });
    expect(
      await validate(LocationDto, {
        organizationId: 'org-1',
        name: 'Site',
        address: { line: [], city: 'Chicago', state: 'Illinois', postalCode: 'abc' },
        coordinates: { lat: 41.8, lon: 200 },
      }),
    ).toMatchObject({
      ok: false,
      fields: expect.arrayContaining([
        'address.line',
        'address.state',
        'address.postalCode',
        'coordinates.lon',
      ]),
    });
    expect(await validate(CapacityDto, { status: 'no-capacity' })).toMatchObject({ ok: true });
    expect(
      await validate(CapacityDto, { status: 'available', available: 10, maximum: 5 }),
    ).toMatchObject({ ok: false, fields: ['maximum'] });
    expect(
      await validate(CapacityDto, { status: 'waitlist', updatedAt: 'yesterday' }),
    ).toMatchObject({ ok: false, fields: ['updatedAt'] });
  });

  it('validates the listing query', async () => {
    expect(
      await validate(ServiceQueryDto, {
        category: 'food-insecurity',
        zip: '60623',
        language: 'es',
      }),
    ).toMatchObject({ ok: true });
    expect(
      await validate(ServiceQueryDto, { category: 'food', zip: '1', language: '!' }),
    ).toMatchObject({ ok: false, fields: ['category', 'zip', 'language'] });
  });
});
