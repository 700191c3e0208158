// The directory's domain model → Open Referral HSDS 3.0 JSON, the inverse of hsds-import.ts
// (see the mapping there). importHsds(directoryToHsds(d)) gives back d, except that
// organizations without services or locations keep their place, and capacity counts without a
// unit or update time get placeholders ("places", the epoch) because HSDS requires both.

import type {
  Coding,
  Directory,
  EligibilityRule,
  Location,
  Organization,
  ScheduleEntry,
  Service,
  ServiceArea,
  Weekday,
} from './directory.model';
import {
  CAPACITY_STATUS_CODES,
  SDOH_CATEGORY_DISPLAY,
  SDOHCC_CODE_SYSTEM,
} from './directory.model';
import { systemToScheme } from './hsds-import';
import type {
  HsdsAttribute,
  HsdsDocument,
  HsdsLocation,
  HsdsOrganization,
  HsdsSchedule,
  HsdsService,
  HsdsServiceArea,
  HsdsTaxonomyTerm,
} from './hsds.types';
import {
  CARERELAY_ELIGIBILITY_TAXONOMY,
  CARERELAY_NETWORK_TAXONOMY,
  SDOHCC_TAXONOMY,
} from './hsds.types';
import { LANGUAGE_NAMES, primaryLanguage } from './languages';

const RRULE_DAY: Readonly<Record<Weekday, string>> = {
  mon: 'MO',
  tue: 'TU',
  wed: 'WE',
  thu: 'TH',
  fri: 'FR',
  sat: 'SA',
  sun: 'SU',
};

/** Ids of the records HSDS needs that the model does not keep (attributes, terms, areas…). */
const childId = (parent: string, kind: string, i: number | string) => `${parent}-${kind}-${i}`;
const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

export function directoryToHsds(directory: Directory): HsdsDocument {
  const servicesByOrg = new Map<string, Service[]>();
  for (const s of directory.services) {
    const list = servicesByOrg.get(s.organizationId) ?? [];
    list.push(s);
    servicesByOrg.set(s.organizationId, list);
  }
  const locationsByOrg = new Map<string, Location[]>();
  const orphanLocations: Location[] = [];
  const orgIds = new Set(directory.organizations.map((o) => o.id));
  for (const l of directory.locations) {
    if (!orgIds.has(l.organizationId)) {
      orphanLocations.push(l);
      continue;
    }
    const list = locationsByOrg.get(l.organizationId) ?? [];
    list.push(l);
    locationsByOrg.set(l.organizationId, list);
  }
  const doc: HsdsDocument = {
    organizations: directory.organizations.map((o) =>
      organizationToHsds(o, locationsByOrg.get(o.id) ?? [], servicesByOrg.get(o.id) ?? []),
    ),
  };
  if (orphanLocations.length > 0) doc.locations = orphanLocations.map(locationToHsds);
  return doc;
}

export function organizationToHsds(
  org: Organization,
  locations: readonly Location[],
  services: readonly Service[],
): HsdsOrganization {
  const out: HsdsOrganization = {
    id: org.id,
    name: org.name,
    description: org.description ?? '',
  };
  if (org.email) out.email = org.email;
  if (org.website) out.website = org.website;
  if (org.phone) out.phones = [{ id: childId(org.id, 'phone', 0), number: org.phone }];
  if (org.identifiers.length > 0) {
    out.organization_identifiers = org.identifiers.map((ident, i) => ({
      id: childId(org.id, 'identifier', i),
      organization_id: org.id,
      identifier_scheme: systemToScheme(ident.system),
      identifier_type: ident.type ?? systemToScheme(ident.system),
      identifier: ident.value,
    }));
  }
  if (org.networks.length > 0) {
    out.attributes = org.networks.map((network, i) =>
      attribute(org.id, 'organization', 'network', i, {
        taxonomy: CARERELAY_NETWORK_TAXONOMY,
        code: network,
        name: network,
      }),
    );
  }
  out.locations = locations.map(locationToHsds);
  out.services = services.map(serviceToHsds);
  return out;
}

export function locationToHsds(loc: Location): HsdsLocation {
  const out: HsdsLocation = {
    id: loc.id,
    location_type: loc.address || loc.coordinates ? 'physical' : 'virtual',
    organization_id: loc.organizationId,
    name: loc.name,
  };
  if (loc.coordinates) {
    out.latitude = loc.coordinates.lat;
    out.longitude = loc.coordinates.lon;
  }
  if (loc.address) {
    const [address1, ...rest] = loc.address.line;
    out.addresses = [
      {
        id: childId(loc.id, 'address', 0),
        location_id: loc.id,
        address_1: address1 ?? '',
        ...(rest.length > 0 ? { address_2: rest.join(', ') } : {}),
        city: loc.address.city,
        state_province: loc.address.state,
        postal_code: loc.address.postalCode,
        country: loc.address.country,
        address_type: 'physical',
      },
    ];
  }
  return out;
}

export function serviceToHsds(service: Service): HsdsService {
  const out: HsdsService = {
    id: service.id,
    organization_id: service.organizationId,
    name: service.name,
    status: service.status,
  };
  if (service.description) out.description = service.description;
  const { eligibility } = service;
  if (eligibility.description) out.eligibility_description = eligibility.description;
  if (eligibility.minAge !== undefined) out.minimum_age = eligibility.minAge;
  if (eligibility.maxAge !== undefined) out.maximum_age = eligibility.maxAge;

  const salId = (locationId: string) => `${service.id}-at-${locationId}`;
  out.service_at_locations = service.locationIds.map((locationId) => ({
    id: salId(locationId),
    service_id: service.id,
    location_id: locationId,
  }));
  out.languages = service.languages.map((tag, i) => ({
    id: childId(service.id, 'language', i),
    service_id: service.id,
    name: LANGUAGE_NAMES[primaryLanguage(tag)] ?? tag,
    code: tag,
  }));
  out.service_areas = service.serviceAreas.map((area, i) =>
    serviceAreaToHsds(area, childId(service.id, 'area', i), service.id, salId),
  );
  out.schedules = service.schedule.map((entry, i) =>
    scheduleToHsds(entry, childId(service.id, 'schedule', i), service.id),
  );

  const { capacity } = service;
  if (capacity.available !== undefined) {
    out.capacities = [
      {
        id: childId(service.id, 'capacity', 0),
        service_id: service.id,
        unit: {
          id: `unit-${slug(capacity.unit ?? 'places')}`,
          name: capacity.unit ?? 'places',
        },
        available: capacity.available,
        ...(capacity.maximum !== undefined ? { maximum: capacity.maximum } : {}),
        updated: capacity.updatedAt ?? new Date(0).toISOString(),
      },
    ];
  }

  const attributes: HsdsAttribute[] = [];
  service.categories.forEach((category, i) =>
    attributes.push(
      attribute(service.id, 'service', 'category', i, {
        taxonomy: SDOHCC_TAXONOMY,
        code: category,
        name: SDOH_CATEGORY_DISPLAY[category],
      }),
    ),
  );
  service.codes.forEach((coding, i) =>
    attributes.push(attribute(service.id, 'service', 'code', i, codingTerm(coding))),
  );
  service.eligibility.rules.forEach((rule, i) =>
    attributes.push(eligibilityAttribute(service.id, rule, i)),
  );
  const status = CAPACITY_STATUS_CODES[capacity.status];
  const statusAttribute = attribute(service.id, 'service', 'capacity_status', 0, {
    taxonomy: SDOHCC_CODE_SYSTEM,
    code: status.code,
    name: status.display,
  });
  if (capacity.notes) statusAttribute.value = capacity.notes;
  attributes.push(statusAttribute);
  out.attributes = attributes;
  return out;
}

function serviceAreaToHsds(
  area: ServiceArea,
  id: string,
  serviceId: string,
  salId: (locationId: string) => string,
): HsdsServiceArea {
  const base: HsdsServiceArea = { id, service_id: serviceId };
  if (area.description) base.description = area.description;
  if (area.kind === 'postal-codes') {
    return {
      ...base,
      name: `ZIP codes ${area.postalCodes.join(', ')}`,
      extent_type: 'text',
      extent: area.postalCodes.join(','),
    };
  }
  return {
    ...base,
    ...(area.locationId ? { service_at_location_id: salId(area.locationId) } : {}),
    name: `Within ${area.radiusKm} km`,
    extent_type: 'geojson',
    extent: JSON.stringify({
      type: 'Feature',
      geometry: { type: 'Point', coordinates: [area.center.lon, area.center.lat] },
      properties: { radius_km: area.radiusKm },
    }),
  };
}

function scheduleToHsds(entry: ScheduleEntry, id: string, serviceId: string): HsdsSchedule {
  const out: HsdsSchedule = {
    id,
    service_id: serviceId,
    freq: 'WEEKLY',
    byday: entry.days.map((d) => RRULE_DAY[d]).join(','),
    opens_at: entry.opensAt,
    closes_at: entry.closesAt,
  };
  if (entry.description) out.description = entry.description;
  return out;
}

function codingTerm(coding: Coding): { taxonomy: string; code: string; name: string } {
  return { taxonomy: coding.system, code: coding.code, name: coding.display ?? coding.code };
}

function eligibilityAttribute(serviceId: string, rule: EligibilityRule, i: number): HsdsAttribute {
  const value =
    'values' in rule ? { op: rule.op, values: rule.values } : { op: rule.op, value: rule.value };
  const attr = attribute(serviceId, 'service', 'eligibility', i, {
    taxonomy: CARERELAY_ELIGIBILITY_TAXONOMY,
    code: rule.attribute,
    name: rule.attribute,
  });
  attr.value = JSON.stringify(value);
  if (rule.description) attr.label = rule.description;
  return attr;
}

function attribute(
  linkId: string,
  linkEntity: string,
  linkType: string,
  i: number,
  term: { taxonomy: string; code: string; name: string },
): HsdsAttribute {
  const taxonomyTerm: HsdsTaxonomyTerm = {
    id: `term-${slug(term.taxonomy)}-${slug(term.code)}`,
    code: term.code,
    name: term.name,
    description: term.name,
    taxonomy: term.taxonomy,
  };
  return {
    id: childId(linkId, linkType, i),
    link_id: linkId,
    link_entity: linkEntity,
    link_type: linkType,
    taxonomy_term_id: taxonomyTerm.id,
    taxonomy_term: taxonomyTerm,
  };
}
