import {
  normalizeLanguageTag,
  normalizePostalCode,
  type Capacity,
  type Eligibility,
  type EligibilityRule,
  type Location,
  type Organization,
  type Service,
  type ServiceArea,
} from '@carerelay/directory';
import type {
  CapacityDto,
  EligibilityDto,
  EligibilityRuleDto,
  LocationDto,
  OrganizationDto,
  ServiceAreaDto,
  ServiceDto,
} from '../http/directory.dto';

// Validated request bodies → the libs/directory model. Optional fields that are absent stay
// absent (no `undefined` keys), so records compare equal however they were written.

const defined = <T extends object>(value: T): T =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;

const unique = <T>(values: T[]): T[] => [...new Set(values)];

export function toOrganization(dto: OrganizationDto, id: string): Organization {
  return defined({
    id,
    name: dto.name.trim(),
    description: dto.description,
    networks: unique(dto.networks ?? []),
    identifiers: (dto.identifiers ?? []).map((i) =>
      defined({ system: i.system, value: i.value, type: i.type }),
    ),
    website: dto.website,
    email: dto.email,
    phone: dto.phone,
  });
}

export function toLocation(dto: LocationDto, id: string): Location {
  return defined({
    id,
    organizationId: dto.organizationId,
    name: dto.name.trim(),
    address: dto.address
      ? {
          line: dto.address.line.map((l) => l.trim()),
          city: dto.address.city.trim(),
          state: dto.address.state,
          postalCode: normalizePostalCode(dto.address.postalCode) as string,
          country: dto.address.country ?? 'US',
        }
      : undefined,
    coordinates: dto.coordinates
      ? { lat: dto.coordinates.lat, lon: dto.coordinates.lon }
      : undefined,
  });
}

export function toServiceArea(dto: ServiceAreaDto): ServiceArea {
  if (dto.kind === 'postal-codes') {
    return defined({
      kind: 'postal-codes' as const,
      postalCodes: unique((dto.postalCodes ?? []).map((z) => normalizePostalCode(z) as string)),
      description: dto.description,
    });
  }
  return defined({
    kind: 'radius' as const,
    center: { lat: dto.center!.lat, lon: dto.center!.lon },
    radiusKm: dto.radiusKm!,
    locationId: dto.locationId,
    description: dto.description,
  });
}

export function toEligibilityRule(dto: EligibilityRuleDto): EligibilityRule {
  switch (dto.op) {
    case 'in':
    case 'not-in':
      return defined({
        attribute: dto.attribute,
        op: dto.op,
        values: dto.values ?? [],
        description: dto.description,
      });
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return defined({
        attribute: dto.attribute,
        op: dto.op,
        value: dto.value as number,
        description: dto.description,
      });
    default:
      return defined({
        attribute: dto.attribute,
        op: dto.op,
        value: dto.value as string | number | boolean,
        description: dto.description,
      });
  }
}

export function toEligibility(dto: EligibilityDto | undefined): Eligibility {
  return defined({
    minAge: dto?.minAge,
    maxAge: dto?.maxAge,
    rules: (dto?.rules ?? []).map(toEligibilityRule),
    description: dto?.description,
  });
}

export function toCapacity(dto: CapacityDto | undefined, now: Date): Capacity {
  if (!dto) return { status: 'available' };
  return defined({
    status: dto.status,
    available: dto.available,
    maximum: dto.maximum,
    unit: dto.unit,
    updatedAt: dto.updatedAt ? new Date(dto.updatedAt).toISOString() : now.toISOString(),
    notes: dto.notes,
  });
}

export function toService(dto: ServiceDto, id: string, now: Date): Service {
  return {
    id,
    organizationId: dto.organizationId,
    name: dto.name.trim(),
    ...(dto.description !== undefined ? { description: dto.description } : {}),
    status: dto.status ?? 'active',
    categories: unique(dto.categories),
    codes: (dto.codes ?? []).map((c) =>
      defined({ system: c.system, code: c.code, display: c.display }),
    ),
    languages: unique((dto.languages ?? []).map((l) => normalizeLanguageTag(l) as string)),
    serviceAreas: (dto.serviceAreas ?? []).map(toServiceArea),
    eligibility: toEligibility(dto.eligibility),
    schedule: (dto.schedule ?? []).map((e) =>
      defined({
        days: unique(e.days),
        opensAt: e.opensAt,
        closesAt: e.closesAt,
        description: e.description,
      }),
    ),
    capacity: toCapacity(dto.capacity, now),
    locationIds: unique(dto.locationIds ?? []),
  };
}

/** Whether two capacities say the same thing (the time of the update aside). */
export function sameCapacity(a: Capacity, b: Capacity): boolean {
  const strip = ({ updatedAt: _updatedAt, ...rest }: Capacity) => rest;
  return JSON.stringify(sortKeys(strip(a))) === JSON.stringify(sortKeys(strip(b)));
}

function sortKeys(value: object): object {
  return Object.fromEntries(Object.entries(value).sort(([x], [y]) => (x < y ? -1 : 1)));
}

/** The columns the listing filters on, derived from a service record. */
export function serviceColumns(service: Service): {
  postalCodes: string[];
  languages: string[];
} {
  const postalCodes = unique(
    service.serviceAreas.flatMap((a) => (a.kind === 'postal-codes' ? a.postalCodes : [])),
  );
  // Full tags and their primary subtags: `language=es` finds es-MX too.
  const languages = unique(
    service.languages.flatMap((tag) => [tag.toLowerCase(), tag.split('-')[0].toLowerCase()]),
  );
  return { postalCodes, languages };
}
