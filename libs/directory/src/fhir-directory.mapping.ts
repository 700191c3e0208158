// The directory as FHIR R4, shaped like the SDOH Clinical Care IG's examples:
//   Organization        ← Organization (US Core Organization profile); network membership as
//                         OrganizationAffiliation (participatingOrganization → the CBO, network →
//                         the network's Organization)
//   HealthcareService   ← Service (SDOHCC-HealthcareServiceForReferralManagement):
//       category       one CodeableConcept per SDOH domain: us-core-category#sdoh + SDOHCC#<domain>
//       type           SDOHCC#program-support, then one CodeableConcept per service code (SNOMED…)
//       communication  BCP-47 language codes
//       coverageArea   → Location resources of physicalType "area": one per ZIP code
//                        (`zip-<ZIP>`, shared), one per radius area (position + radius extension)
//       eligibility    age bounds and each rule, coded by attribute, the rule in `comment`
//       availableTime  the weekly schedule
//       extension      the IG's capacity status extension (STU 3 draft), with capacityNotes
//   Location            ← Location (SDOHCC-Location): address and position.

import type {
  Bundle,
  BundleEntry,
  CodeableConcept,
  HealthcareService,
  HealthcareServiceEligibility,
  Location as FhirLocation,
  Organization as FhirOrganization,
  OrganizationAffiliation,
  Reference,
  Resource,
} from '@medplum/fhirtypes';
import type {
  Directory,
  GeoPoint,
  Location,
  Organization,
  PostalAddress,
  Service,
  ServiceArea,
} from './directory.model';
import {
  CAPACITY_STATUS_CODES,
  SDOH_CATEGORY_DISPLAY,
  SDOHCC_CODE_SYSTEM,
} from './directory.model';
import { describeAgeRange, describeRule } from './eligibility';
import { LANGUAGE_NAMES, primaryLanguage } from './languages';

const SDOHCC = 'http://hl7.org/fhir/us/sdoh-clinicalcare';
/** The IG's capacity status extension on HealthcareService (STU 3, draft). */
export const SDOHCC_CAPACITY_STATUS_EXTENSION = `${SDOHCC}/StructureDefinition/SDOHCC-ExtensionHealthcareServiceCapacityStatus`;
export const SDOHCC_HEALTHCARE_SERVICE_PROFILE = `${SDOHCC}/StructureDefinition/SDOHCC-HealthcareServiceForReferralManagement`;
export const SDOHCC_LOCATION_PROFILE = `${SDOHCC}/StructureDefinition/SDOHCC-Location`;
export const US_CORE_ORGANIZATION_PROFILE =
  'http://hl7.org/fhir/us/core/StructureDefinition/us-core-organization';
export const US_CORE_CATEGORY_SYSTEM = 'http://hl7.org/fhir/us/core/CodeSystem/us-core-category';
export const BCP47_SYSTEM = 'urn:ietf:bcp:47';
export const LOCATION_PHYSICAL_TYPE_SYSTEM =
  'http://terminology.hl7.org/CodeSystem/location-physical-type';
export const ORGANIZATION_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/organization-type';

/** CareRelay's own definitions, for what the IG and FHIR R4 have no element for. */
export const CARERELAY_FHIR_BASE = 'https://carerelay.example/fhir';
/** valueQuantity in km on a coverage-area Location: the area is the circle around `position`. */
export const SERVICE_AREA_RADIUS_EXTENSION = `${CARERELAY_FHIR_BASE}/StructureDefinition/service-area-radius`;
/** Codes of HealthcareService.eligibility: the attribute an eligibility rule tests. */
export const ELIGIBILITY_ATTRIBUTE_SYSTEM = `${CARERELAY_FHIR_BASE}/CodeSystem/eligibility-attribute`;

export interface FhirMappingOptions {
  /** FHIR base URL: references become absolute (`<base>/Organization/x`); else relative. */
  baseUrl?: string;
  /** ZIP centroids, to give ZIP coverage-area Locations a position. */
  zipCentroids?: ReadonlyMap<string, GeoPoint> | Readonly<Record<string, GeoPoint>>;
}

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** The id as a FHIR id, or a clear error (ids come from HSDS and may be anything). */
export function fhirId(id: string, what = 'id'): string {
  if (!FHIR_ID.test(id)) {
    throw new Error(`${what} "${id}" is not a valid FHIR id ([A-Za-z0-9-.], 1–64 characters)`);
  }
  return id;
}

function ref<T extends Resource>(
  type: T['resourceType'],
  id: string,
  opts: FhirMappingOptions,
  display?: string,
): Reference<T> {
  const path = `${type}/${fhirId(id, `${type} id`)}`;
  const reference: Reference<T> = {
    reference: opts.baseUrl ? `${opts.baseUrl.replace(/\/$/, '')}/${path}` : path,
  };
  if (display) reference.display = display;
  return reference;
}

export function toFhirOrganization(org: Organization): FhirOrganization {
  const resource: FhirOrganization = {
    resourceType: 'Organization',
    id: fhirId(org.id, 'Organization id'),
    meta: { profile: [US_CORE_ORGANIZATION_PROFILE] },
    active: true,
    type: [
      {
        coding: [{ system: ORGANIZATION_TYPE_SYSTEM, code: 'cg', display: 'Community Group' }],
      },
    ],
    name: org.name,
  };
  if (org.identifiers.length > 0) {
    resource.identifier = org.identifiers.map((i) => ({
      system: i.system,
      value: i.value,
      ...(i.type ? { type: { text: i.type } } : {}),
    }));
  }
  const telecom: NonNullable<FhirOrganization['telecom']> = [];
  if (org.phone) telecom.push({ system: 'phone', value: org.phone, use: 'work' });
  if (org.email) telecom.push({ system: 'email', value: org.email, use: 'work' });
  if (org.website) telecom.push({ system: 'url', value: org.website, use: 'work' });
  if (telecom.length > 0) resource.telecom = telecom;
  return resource;
}

/** One OrganizationAffiliation per network the organization belongs to. */
export function toFhirOrganizationAffiliations(
  org: Organization,
  opts: FhirMappingOptions = {},
): OrganizationAffiliation[] {
  return org.networks.map((network) => ({
    resourceType: 'OrganizationAffiliation',
    id: fhirId(`${org.id}-in-${network}`, 'OrganizationAffiliation id'),
    active: true,
    organization: ref<FhirOrganization>('Organization', network, opts),
    participatingOrganization: ref<FhirOrganization>('Organization', org.id, opts, org.name),
    network: [ref<FhirOrganization>('Organization', network, opts)],
  }));
}

function fhirAddress(address: PostalAddress): NonNullable<FhirLocation['address']> {
  return {
    use: 'work',
    type: 'physical',
    text: `${address.line.join(', ')}, ${address.city}, ${address.state} ${address.postalCode}`,
    line: address.line,
    city: address.city,
    state: address.state,
    postalCode: address.postalCode,
    country: address.country,
  };
}

export function toFhirLocation(loc: Location, opts: FhirMappingOptions = {}): FhirLocation {
  const resource: FhirLocation = {
    resourceType: 'Location',
    id: fhirId(loc.id, 'Location id'),
    meta: { profile: [SDOHCC_LOCATION_PROFILE] },
    status: 'active',
    name: loc.name,
    mode: 'instance',
    physicalType: {
      coding: [{ system: LOCATION_PHYSICAL_TYPE_SYSTEM, code: 'bu', display: 'Building' }],
    },
  };
  if (loc.address) resource.address = fhirAddress(loc.address);
  if (loc.coordinates) {
    resource.position = { latitude: loc.coordinates.lat, longitude: loc.coordinates.lon };
  }
  if (loc.organizationId) {
    resource.managingOrganization = ref<FhirOrganization>('Organization', loc.organizationId, opts);
  }
  return resource;
}

const AREA_TYPE: CodeableConcept = {
  coding: [{ system: LOCATION_PHYSICAL_TYPE_SYSTEM, code: 'area', display: 'Area' }],
};

export const zipAreaLocationId = (zip: string) => `zip-${zip}`;
export const radiusAreaLocationId = (serviceId: string, index: number) =>
  `${serviceId}-area-${index}`;

function centroid(opts: FhirMappingOptions, zip: string): GeoPoint | undefined {
  const c = opts.zipCentroids;
  if (!c) return undefined;
  return c instanceof Map ? c.get(zip) : (c as Readonly<Record<string, GeoPoint>>)[zip];
}

/** The coverage-area Location resources of one service (ZIP ones are shared between services). */
export function toFhirCoverageAreaLocations(
  service: Service,
  opts: FhirMappingOptions = {},
): FhirLocation[] {
  const out: FhirLocation[] = [];
  service.serviceAreas.forEach((area, i) => {
    if (area.kind === 'postal-codes') {
      for (const zip of area.postalCodes) out.push(zipAreaLocation(zip, opts));
    } else {
      out.push(radiusAreaLocation(service, area, i));
    }
  });
  return out;
}

function zipAreaLocation(zip: string, opts: FhirMappingOptions): FhirLocation {
  const resource: FhirLocation = {
    resourceType: 'Location',
    id: fhirId(zipAreaLocationId(zip), 'Location id'),
    status: 'active',
    name: `ZIP code ${zip}`,
    mode: 'kind',
    physicalType: AREA_TYPE,
    address: { postalCode: zip, country: 'US' },
  };
  const c = centroid(opts, zip);
  if (c) resource.position = { latitude: c.lat, longitude: c.lon };
  return resource;
}

function radiusAreaLocation(
  service: Service,
  area: Extract<ServiceArea, { kind: 'radius' }>,
  index: number,
): FhirLocation {
  return {
    resourceType: 'Location',
    id: fhirId(radiusAreaLocationId(service.id, index), 'Location id'),
    extension: [
      {
        url: SERVICE_AREA_RADIUS_EXTENSION,
        valueQuantity: {
          value: area.radiusKm,
          unit: 'km',
          system: 'http://unitsofmeasure.org',
          code: 'km',
        },
      },
    ],
    status: 'active',
    name: `Within ${area.radiusKm} km of ${service.name}`,
    description: area.description,
    mode: 'instance',
    physicalType: AREA_TYPE,
    position: { latitude: area.center.lat, longitude: area.center.lon },
  };
}

function eligibilityCode(attribute: string, text: string): CodeableConcept {
  return { coding: [{ system: ELIGIBILITY_ATTRIBUTE_SYSTEM, code: attribute }], text };
}

function capacityNotes(service: Service): string | undefined {
  const { capacity } = service;
  const parts: string[] = [];
  if (capacity.notes) parts.push(capacity.notes);
  if (capacity.available !== undefined) {
    const of = capacity.maximum !== undefined ? ` of ${capacity.maximum}` : '';
    parts.push(`${capacity.available}${of} ${capacity.unit ?? 'places'} available`);
  }
  if (capacity.updatedAt) parts.push(`updated ${capacity.updatedAt}`);
  return parts.length > 0 ? parts.join('; ') : undefined;
}

export function toFhirHealthcareService(
  service: Service,
  opts: FhirMappingOptions = {},
): HealthcareService {
  const status = CAPACITY_STATUS_CODES[service.capacity.status];
  const notes = capacityNotes(service);
  const resource: HealthcareService = {
    resourceType: 'HealthcareService',
    id: fhirId(service.id, 'HealthcareService id'),
    meta: { profile: [SDOHCC_HEALTHCARE_SERVICE_PROFILE] },
    extension: [
      {
        url: SDOHCC_CAPACITY_STATUS_EXTENSION,
        extension: [
          {
            url: 'capacityStatus',
            valueCodeableConcept: {
              coding: [{ system: SDOHCC_CODE_SYSTEM, code: status.code, display: status.display }],
            },
          },
          ...(notes ? [{ url: 'capacityNotes', valueString: notes }] : []),
        ],
      },
    ],
    active: service.status === 'active',
    providedBy: ref<FhirOrganization>('Organization', service.organizationId, opts),
    category: service.categories.map((c) => ({
      coding: [
        { system: US_CORE_CATEGORY_SYSTEM, code: 'sdoh', display: 'SDOH' },
        { system: SDOHCC_CODE_SYSTEM, code: c, display: SDOH_CATEGORY_DISPLAY[c] },
      ],
    })),
    type: [
      {
        coding: [
          { system: SDOHCC_CODE_SYSTEM, code: 'program-support', display: 'Program Support' },
        ],
      },
      ...service.codes.map((c) => ({ coding: [{ ...c }] })),
    ],
    name: service.name,
  };
  if (service.locationIds.length > 0) {
    resource.location = service.locationIds.map((id) => ref<FhirLocation>('Location', id, opts));
  }
  if (service.description) resource.comment = service.description;

  const coverage: Reference<FhirLocation>[] = [];
  service.serviceAreas.forEach((area, i) => {
    if (area.kind === 'postal-codes') {
      for (const zip of area.postalCodes) {
        coverage.push(
          ref<FhirLocation>('Location', zipAreaLocationId(zip), opts, `ZIP code ${zip}`),
        );
      }
    } else {
      coverage.push(
        ref<FhirLocation>(
          'Location',
          radiusAreaLocationId(service.id, i),
          opts,
          `Within ${area.radiusKm} km`,
        ),
      );
    }
  });
  if (coverage.length > 0) resource.coverageArea = coverage;

  const eligibility: HealthcareServiceEligibility[] = [];
  const { minAge, maxAge, rules, description } = service.eligibility;
  if (minAge !== undefined || maxAge !== undefined) {
    const text = describeAgeRange(minAge, maxAge);
    eligibility.push({
      code: eligibilityCode('age', 'Age'),
      comment: text[0].toUpperCase() + text.slice(1),
    });
  }
  for (const rule of rules) {
    eligibility.push({
      code: eligibilityCode(rule.attribute, rule.attribute),
      comment: describeRule(rule),
    });
  }
  if (description) eligibility.push({ comment: description });
  if (eligibility.length > 0) resource.eligibility = eligibility;

  if (service.languages.length > 0) {
    resource.communication = service.languages.map((tag) => {
      const name = LANGUAGE_NAMES[primaryLanguage(tag)];
      return { coding: [{ system: BCP47_SYSTEM, code: tag, ...(name ? { display: name } : {}) }] };
    });
  }
  if (service.schedule.length > 0) {
    resource.availableTime = service.schedule.map((e) => ({
      daysOfWeek: [...e.days],
      availableStartTime: `${e.opensAt}:00`,
      availableEndTime: `${e.closesAt}:00`,
    }));
    const described = service.schedule.filter((e) => e.description).map((e) => e.description);
    if (described.length > 0) resource.availabilityExceptions = described.join('; ');
  }
  return resource;
}

/** Every resource of the directory: organizations, affiliations, locations, coverage areas, services. */
export function toFhirDirectoryResources(
  directory: Directory,
  opts: FhirMappingOptions = {},
): Resource[] {
  const resources: Resource[] = [];
  for (const org of directory.organizations) {
    resources.push(toFhirOrganization(org), ...toFhirOrganizationAffiliations(org, opts));
  }
  for (const loc of directory.locations) resources.push(toFhirLocation(loc, opts));
  const seenAreas = new Set<string>();
  for (const service of directory.services) {
    for (const area of toFhirCoverageAreaLocations(service, opts)) {
      if (seenAreas.has(area.id!)) continue;
      seenAreas.add(area.id!);
      resources.push(area);
    }
  }
  for (const service of directory.services) resources.push(toFhirHealthcareService(service, opts));
  return resources;
}

/**
 * The directory as a transaction Bundle of conditional-free PUTs (idempotent: loading it twice
 * leaves the same resources), or as a collection.
 */
export function toFhirDirectoryBundle(
  directory: Directory,
  opts: FhirMappingOptions & { type?: 'transaction' | 'collection' } = {},
): Bundle {
  const type = opts.type ?? 'transaction';
  const base = opts.baseUrl?.replace(/\/$/, '');
  const entry: BundleEntry[] = toFhirDirectoryResources(directory, opts).map((resource) => {
    const url = `${resource.resourceType}/${resource.id}`;
    return {
      ...(base ? { fullUrl: `${base}/${url}` } : {}),
      resource,
      ...(type === 'transaction' ? { request: { method: 'PUT' as const, url } } : {}),
    };
  });
  return { resourceType: 'Bundle', type, entry };
}
