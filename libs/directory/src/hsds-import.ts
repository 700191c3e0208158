// Open Referral HSDS 3.0 JSON → the directory's domain model.
//
// Field mapping (HSDS → model):
//   organization.id, name, description, email, website          → Organization.*
//   organization.phones[0].number                               → Organization.phone
//   organization.organization_identifiers[]                     → Organization.identifiers
//       identifier_scheme (org-id.guide, e.g. US-EIN) → system (FHIR identifier system; see
//       IDENTIFIER_SCHEMES; a scheme that is already a URI is kept), identifier_type → type,
//       identifier → value
//   organization.attributes[] in CARERELAY_NETWORK_TAXONOMY     → Organization.networks (term code)
//   organization.locations[], service_at_locations[].location,
//   top-level locations[]                                       → Location
//       latitude/longitude → coordinates; the first physical address (else the first):
//       address_1 + address_2 → line, city, state_province → state, postal_code, country
//   organization.services[] (or top-level services[] by organization_id) → Service
//       id, name, description                                   → Service.*
//       status: active → active; inactive, defunct, temporarily closed → inactive
//       attributes[] whose taxonomy is the SDOHCC code system:
//           a category code (food-insecurity…)                  → categories
//           a capacity code (capacity, no-capacity, no-capacity-has-waitlist) → capacity.status,
//               its value → capacity.notes
//       attributes[] in CARERELAY_ELIGIBILITY_TAXONOMY          → eligibility.rules
//           term code = attribute, value = JSON {op, value | values}, label = rule description
//       attributes[] of any other taxonomy (SNOMED CT, AIRS/211…) → codes
//           system = taxonomy_detail.uri ?? taxonomy, code = term code, display = term name
//       minimum_age, maximum_age, eligibility_description       → eligibility.minAge/maxAge/description
//       languages[].code (ISO 639-1/2 or BCP-47; else name)     → languages (BCP-47)
//       service_areas[] and service_at_locations[].service_areas[] → serviceAreas
//           extent_type "text": extent is a list of ZIP codes   → postal-codes area
//           extent_type "geojson": a Point Feature with properties.radius_km → radius area
//               (center = the point; a null geometry on an area tied to a service_at_location
//               takes that location's coordinates); service_at_location_id → locationId
//           other extents (polygons, free text) are skipped with a warning
//       schedules[] and service_at_locations[].schedules[] with freq WEEKLY
//           byday (MO,TU…), opens_at, closes_at, description    → schedule
//       capacities[] (available and maximum summed, unit.name, latest updated; description →
//           notes unless the status attribute has a value)
//                                                               → capacity; without a status
//           attribute: available > 0 → available, else no-capacity; no capacity data → available
//       service_at_locations[].location_id (or .location.id)    → locationIds
//
// Malformed input yields errors naming the record and the field (path); data the model can't use
// yields warnings. `parseHsds` returns them; `importHsds` throws on errors.

import type {
  Capacity,
  CapacityStatus,
  Coding,
  Directory,
  EligibilityRule,
  EligibilityValue,
  GeoPoint,
  Location,
  Organization,
  OrganizationIdentifier,
  PostalAddress,
  ScheduleEntry,
  SdohCategory,
  Service,
  ServiceArea,
  Weekday,
} from './directory.model';
import { capacityStatusFromCode, ELIGIBILITY_OPERATORS, isSdohCategory } from './directory.model';
import { normalizePostalCode } from './geo';
import {
  CARERELAY_ELIGIBILITY_TAXONOMY,
  CARERELAY_NETWORK_TAXONOMY,
  SDOHCC_TAXONOMY,
} from './hsds.types';
import { normalizeLanguageTag } from './languages';

/** org-id.guide scheme ↔ FHIR identifier system, for the identifiers US CBOs carry. */
export const IDENTIFIER_SCHEMES: Readonly<Record<string, string>> = {
  'US-EIN': 'urn:oid:2.16.840.1.113883.4.4',
  'US-NPI': 'http://hl7.org/fhir/sid/us-npi',
};

export interface HsdsIssue {
  severity: 'error' | 'warning';
  /** JSON path of the offending value: `organizations[2].services[0].languages[1].code`. */
  path: string;
  /** The record it belongs to: `service "svc-12"`. */
  record?: string;
  message: string;
}

export type HsdsImportResult =
  | { ok: true; directory: Directory; warnings: HsdsIssue[] }
  | { ok: false; errors: HsdsIssue[]; warnings: HsdsIssue[] };

export class HsdsImportError extends Error {
  constructor(readonly issues: HsdsIssue[]) {
    super(
      `HSDS import failed with ${issues.length} error${issues.length === 1 ? '' : 's'}:\n` +
        issues
          .slice(0, 20)
          .map((i) => `  ${formatIssue(i)}`)
          .join('\n') +
        (issues.length > 20 ? `\n  … and ${issues.length - 20} more` : ''),
    );
    this.name = 'HsdsImportError';
  }
}

export function formatIssue(issue: HsdsIssue): string {
  return `${issue.path}${issue.record ? ` (${issue.record})` : ''}: ${issue.message}`;
}

/** Imports an HSDS document, throwing an HsdsImportError that lists every error. */
export function importHsds(input: unknown): { directory: Directory; warnings: HsdsIssue[] } {
  const result = parseHsds(input);
  if (!result.ok) throw new HsdsImportError(result.errors);
  return { directory: result.directory, warnings: result.warnings };
}

/** Imports an HSDS document, collecting every error and warning instead of throwing. */
export function parseHsds(input: unknown): HsdsImportResult {
  return new Importer().run(input);
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const WEEKDAY_BY_RRULE: Readonly<Record<string, Weekday>> = {
  MO: 'mon',
  TU: 'tue',
  WE: 'wed',
  TH: 'thu',
  FR: 'fri',
  SA: 'sat',
  SU: 'sun',
};

const TIME = /^([01]\d|2[0-3]):([0-5]\d)(?::[0-5]\d(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?$/;

interface PendingService {
  raw: Json;
  path: string;
  organizationId: string;
}

interface PendingLocation {
  raw: Json;
  path: string;
  organizationId?: string;
}

class Importer {
  private readonly errors: HsdsIssue[] = [];
  private readonly warnings: HsdsIssue[] = [];
  private readonly organizations: Organization[] = [];
  private readonly orgIds = new Set<string>();
  private readonly pendingLocations = new Map<string, PendingLocation>();
  private readonly pendingServices: PendingService[] = [];
  private readonly locations = new Map<string, Location>();
  /** Which organization's services refer to a location, for locations given without one. */
  private readonly locationUsers = new Map<string, string>();

  run(input: unknown): HsdsImportResult {
    const root = this.root(input);
    if (root) {
      root.organizations.forEach((o, i) => this.organization(o, `${root.orgPath}[${i}]`));
      root.locations?.forEach((l, i) => this.collectLocation(l, `locations[${i}]`, undefined));
      root.services?.forEach((s, i) => this.collectTopLevelService(s, `services[${i}]`));
    }
    const services = this.pendingServices
      .map((p) => this.service(p))
      .filter((s): s is Service => s !== undefined);
    this.resolveLocations();
    if (this.errors.length > 0) {
      return { ok: false, errors: this.errors, warnings: this.warnings };
    }
    return {
      ok: true,
      directory: {
        organizations: this.organizations,
        services,
        locations: [...this.locations.values()],
      },
      warnings: this.warnings,
    };
  }

  private error(path: string, record: string | undefined, message: string): void {
    this.errors.push({ severity: 'error', path, record, message });
  }

  private warn(path: string, record: string | undefined, message: string): void {
    this.warnings.push({ severity: 'warning', path, record, message });
  }

  private root(
    input: unknown,
  ):
    | { organizations: unknown[]; orgPath: string; services?: unknown[]; locations?: unknown[] }
    | undefined {
    if (Array.isArray(input)) return { organizations: input, orgPath: '' };
    if (!isObject(input)) {
      this.error(
        '$',
        undefined,
        'expected an HSDS document: an object with "organizations" or an array of organizations',
      );
      return undefined;
    }
    const list = (key: string): unknown[] | undefined => {
      const v = input[key];
      if (v === undefined) return undefined;
      if (!Array.isArray(v)) {
        this.error(key, undefined, 'must be an array');
        return undefined;
      }
      return v;
    };
    const contents = list('contents');
    const organizations = list('organizations');
    if (organizations === undefined && contents === undefined) {
      this.error('organizations', undefined, 'is required (an array of HSDS organizations)');
      return undefined;
    }
    return {
      organizations: organizations ?? contents ?? [],
      orgPath: organizations !== undefined ? 'organizations' : 'contents',
      services: list('services'),
      locations: list('locations'),
    };
  }

  // ---- field readers: each records an error naming the path and record when the type is wrong

  private str(
    obj: Json,
    key: string,
    path: string,
    record: string | undefined,
    required = false,
  ): string | undefined {
    const v = obj[key];
    if (v === undefined || v === null || v === '') {
      if (required) this.error(`${path}.${key}`, record, 'is required');
      return undefined;
    }
    if (typeof v !== 'string') {
      this.error(`${path}.${key}`, record, `must be a string, got ${typeName(v)}`);
      return undefined;
    }
    const trimmed = v.trim();
    if (required && !trimmed) this.error(`${path}.${key}`, record, 'is required');
    return trimmed || undefined;
  }

  private num(
    obj: Json,
    key: string,
    path: string,
    record: string | undefined,
    required = false,
  ): number | undefined {
    const v = obj[key];
    if (v === undefined || v === null || v === '') {
      if (required) this.error(`${path}.${key}`, record, 'is required');
      return undefined;
    }
    // HSDS tabular sources often carry numbers as strings.
    const n = typeof v === 'string' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n)) {
      this.error(`${path}.${key}`, record, `must be a number, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return n;
  }

  private arr(obj: Json, key: string, path: string, record: string | undefined): unknown[] {
    const v = obj[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.error(`${path}.${key}`, record, `must be an array, got ${typeName(v)}`);
      return [];
    }
    return v;
  }

  private objects(
    obj: Json,
    key: string,
    path: string,
    record: string | undefined,
  ): Array<[Json, string]> {
    const out: Array<[Json, string]> = [];
    this.arr(obj, key, path, record).forEach((item, i) => {
      const p = `${path}.${key}[${i}]`;
      if (isObject(item)) out.push([item, p]);
      else this.error(p, record, `must be an object, got ${typeName(item)}`);
    });
    return out;
  }

  // ---- organizations

  private organization(raw: unknown, path: string): void {
    if (!isObject(raw)) {
      this.error(path, undefined, `an organization must be an object, got ${typeName(raw)}`);
      return;
    }
    const id = this.str(raw, 'id', path, 'organization', true);
    const record = id ? `organization "${id}"` : 'organization';
    const name = this.str(raw, 'name', path, record, true);
    // Without a name the organization is still walked, so that its services' errors show too.
    if (!id) return;
    if (this.orgIds.has(id)) {
      this.error(`${path}.id`, record, 'duplicate organization id');
      return;
    }
    this.orgIds.add(id);

    const identifiers: OrganizationIdentifier[] = [];
    for (const [ident, p] of this.objects(raw, 'organization_identifiers', path, record)) {
      const value = this.str(ident, 'identifier', p, record, true);
      const type = this.str(ident, 'identifier_type', p, record);
      const scheme = this.str(ident, 'identifier_scheme', p, record);
      if (!value) continue;
      if (!scheme)
        this.warn(
          `${p}.identifier_scheme`,
          record,
          'missing: identifier kept with a placeholder system',
        );
      identifiers.push({ system: schemeToSystem(scheme ?? type ?? 'unknown'), value, type });
    }

    const networks: string[] = [];
    for (const [attr, p] of this.objects(raw, 'attributes', path, record)) {
      const term = this.term(attr, p, record);
      if (term?.taxonomy === CARERELAY_NETWORK_TAXONOMY) {
        if (term.code) networks.push(term.code);
        else
          this.error(
            `${p}.taxonomy_term.code`,
            record,
            'network attribute needs the network id as its code',
          );
      }
    }

    const phone = this.objects(raw, 'phones', path, record)
      .map(([ph, p]) => this.str(ph, 'number', p, record))
      .find((n) => n !== undefined);

    if (name) {
      this.organizations.push({
        id,
        name,
        description: this.str(raw, 'description', path, record),
        networks,
        identifiers,
        website: this.str(raw, 'website', path, record),
        email: this.str(raw, 'email', path, record),
        phone,
      });
    }

    this.arr(raw, 'locations', path, record).forEach((l, i) =>
      this.collectLocation(l, `${path}.locations[${i}]`, id),
    );
    this.arr(raw, 'services', path, record).forEach((s, i) => {
      const p = `${path}.services[${i}]`;
      if (!isObject(s)) {
        this.error(p, record, `a service must be an object, got ${typeName(s)}`);
        return;
      }
      const declared = this.str(s, 'organization_id', p, undefined);
      if (declared && declared !== id) {
        this.error(
          `${p}.organization_id`,
          `service "${String(s.id)}"`,
          `is "${declared}" but the service is nested in organization "${id}"`,
        );
      }
      this.pendingServices.push({ raw: s, path: p, organizationId: id });
    });
  }

  private collectTopLevelService(raw: unknown, path: string): void {
    if (!isObject(raw)) {
      this.error(path, undefined, `a service must be an object, got ${typeName(raw)}`);
      return;
    }
    const record = `service "${String(raw.id)}"`;
    const orgId = this.str(raw, 'organization_id', path, record, true);
    if (!orgId) return;
    if (!this.orgIds.has(orgId)) {
      this.error(`${path}.organization_id`, record, `refers to unknown organization "${orgId}"`);
      return;
    }
    this.pendingServices.push({ raw, path, organizationId: orgId });
  }

  // ---- locations

  private collectLocation(
    raw: unknown,
    path: string,
    organizationId: string | undefined,
  ): string | undefined {
    if (!isObject(raw)) {
      this.error(path, undefined, `a location must be an object, got ${typeName(raw)}`);
      return undefined;
    }
    const id = this.str(raw, 'id', path, 'location', true);
    if (!id) return undefined;
    const existing = this.pendingLocations.get(id);
    if (existing) {
      // The same location embedded twice (e.g. under two services) is fine; two different ones are not.
      if (JSON.stringify(existing.raw) !== JSON.stringify(raw)) {
        this.error(
          `${path}.id`,
          `location "${id}"`,
          `duplicate location id with different content (first at ${existing.path})`,
        );
      }
      return id;
    }
    this.pendingLocations.set(id, { raw, path, organizationId: organizationId ?? undefined });
    return id;
  }

  private resolveLocations(): void {
    for (const [id, { raw, path, organizationId }] of this.pendingLocations) {
      const record = `location "${id}"`;
      const declaredOrg = this.str(raw, 'organization_id', path, record);
      if (declaredOrg && !this.orgIds.has(declaredOrg)) {
        this.error(
          `${path}.organization_id`,
          record,
          `refers to unknown organization "${declaredOrg}"`,
        );
      }
      const orgId = organizationId ?? declaredOrg ?? this.locationUsers.get(id);
      if (!orgId) this.warn(path, record, 'belongs to no organization and no service uses it');
      const location = this.location(raw, path, id, orgId ?? '');
      if (location) this.locations.set(id, location);
    }
  }

  private location(
    raw: Json,
    path: string,
    id: string,
    organizationId: string,
  ): Location | undefined {
    const record = `location "${id}"`;
    const type = this.str(raw, 'location_type', path, record);
    if (type && !['physical', 'postal', 'virtual'].includes(type)) {
      this.error(
        `${path}.location_type`,
        record,
        `must be physical, postal or virtual, got "${type}"`,
      );
    }
    const coordinates = this.coordinates(raw, path, record);
    const addresses = this.objects(raw, 'addresses', path, record);
    const chosen = addresses.find(([a]) => a.address_type === 'physical') ?? addresses[0];
    let address: PostalAddress | undefined;
    if (chosen) address = this.address(chosen[0], chosen[1], record);
    else if (type !== 'virtual') this.warn(`${path}.addresses`, record, 'no address');
    return {
      id,
      organizationId,
      name: this.str(raw, 'name', path, record) ?? id,
      address,
      coordinates,
    };
  }

  private coordinates(raw: Json, path: string, record: string): GeoPoint | undefined {
    const lat = this.num(raw, 'latitude', path, record);
    const lon = this.num(raw, 'longitude', path, record);
    if (lat === undefined && lon === undefined) return undefined;
    if (lat === undefined || lon === undefined) {
      this.error(
        `${path}.${lat === undefined ? 'latitude' : 'longitude'}`,
        record,
        'latitude and longitude must be given together',
      );
      return undefined;
    }
    if (lat < -90 || lat > 90) {
      this.error(`${path}.latitude`, record, `must be between -90 and 90, got ${lat}`);
      return undefined;
    }
    if (lon < -180 || lon > 180) {
      this.error(`${path}.longitude`, record, `must be between -180 and 180, got ${lon}`);
      return undefined;
    }
    return { lat, lon };
  }

  private address(raw: Json, path: string, record: string): PostalAddress | undefined {
    const line1 = this.str(raw, 'address_1', path, record, true);
    const line2 = this.str(raw, 'address_2', path, record);
    const city = this.str(raw, 'city', path, record, true);
    const state = this.str(raw, 'state_province', path, record, true);
    const postalCode = this.str(raw, 'postal_code', path, record, true);
    const country = this.str(raw, 'country', path, record, true);
    if (postalCode && country === 'US' && !normalizePostalCode(postalCode)) {
      this.error(`${path}.postal_code`, record, `"${postalCode}" is not a US ZIP code`);
    }
    if (!line1 || !city || !state || !postalCode || !country) return undefined;
    return { line: line2 ? [line1, line2] : [line1], city, state, postalCode, country };
  }

  // ---- services

  private service({ raw, path, organizationId }: PendingService): Service | undefined {
    const id = this.str(raw, 'id', path, 'service', true);
    const record = id ? `service "${id}"` : 'service';
    const name = this.str(raw, 'name', path, record, true);
    const rawStatus = this.str(raw, 'status', path, record, true);
    let status: Service['status'] = 'active';
    if (rawStatus) {
      if (rawStatus === 'active') status = 'active';
      else if (['inactive', 'defunct', 'temporarily closed'].includes(rawStatus))
        status = 'inactive';
      else
        this.error(
          `${path}.status`,
          record,
          `must be active, inactive, defunct or temporarily closed, got "${rawStatus}"`,
        );
    }

    // service_at_locations: locations, and the areas and schedules attached to them
    const locationIds: string[] = [];
    const salLocation = new Map<string, string>();
    const salAreas: Array<[Json, string, string]> = [];
    const salSchedules: Array<[Json, string]> = [];
    for (const [sal, p] of this.objects(raw, 'service_at_locations', path, record)) {
      let locationId = this.str(sal, 'location_id', p, record);
      if (isObject(sal.location)) {
        const embedded = this.collectLocation(sal.location, `${p}.location`, undefined);
        if (locationId && embedded && embedded !== locationId) {
          this.error(
            `${p}.location_id`,
            record,
            `is "${locationId}" but the embedded location is "${embedded}"`,
          );
        }
        locationId = locationId ?? embedded;
      } else if (sal.location !== undefined && sal.location !== null) {
        this.error(`${p}.location`, record, `must be an object, got ${typeName(sal.location)}`);
      }
      if (!locationId) {
        this.error(`${p}.location_id`, record, 'is required (or an embedded location)');
        continue;
      }
      if (!locationIds.includes(locationId)) locationIds.push(locationId);
      if (!this.locationUsers.has(locationId)) this.locationUsers.set(locationId, organizationId);
      const salId = this.str(sal, 'id', p, record);
      if (salId) salLocation.set(salId, locationId);
      for (const [area, ap] of this.objects(sal, 'service_areas', p, record))
        salAreas.push([area, ap, locationId]);
      salSchedules.push(...this.objects(sal, 'schedules', p, record));
    }
    for (const locationId of locationIds) {
      if (!this.pendingLocations.has(locationId)) {
        this.error(
          `${path}.service_at_locations`,
          record,
          `refers to unknown location "${locationId}"`,
        );
      }
    }

    const { categories, codes, rules, capacityStatus, capacityNotes } = this.serviceAttributes(
      raw,
      path,
      record,
    );
    if (categories.length === 0) {
      this.warn(
        `${path}.attributes`,
        record,
        'no SDOH category (SDOHCC taxonomy term): it will only match needs without a category',
      );
    }

    const languages: string[] = [];
    for (const [lang, p] of this.objects(raw, 'languages', path, record)) {
      const code = this.str(lang, 'code', p, record);
      const langName = this.str(lang, 'name', p, record);
      const tag = code !== undefined ? normalizeLanguageTag(code) : normalizeLanguageTag(langName);
      if (!tag) {
        if (code !== undefined) {
          this.error(`${p}.code`, record, `"${code}" is not an ISO 639 / BCP-47 language code`);
        } else {
          this.warn(
            p,
            record,
            `language ${langName ? `"${langName}"` : 'without code or name'} not recognised, skipped`,
          );
        }
        continue;
      }
      if (!languages.includes(tag)) languages.push(tag);
    }

    const serviceAreas: ServiceArea[] = [];
    for (const [area, p] of this.objects(raw, 'service_areas', path, record)) {
      const salId = this.str(area, 'service_at_location_id', p, record);
      let locationId: string | undefined;
      if (salId) {
        locationId = salLocation.get(salId);
        if (!locationId)
          this.error(
            `${p}.service_at_location_id`,
            record,
            `refers to unknown service_at_location "${salId}"`,
          );
      }
      const parsed = this.serviceArea(area, p, record, locationId);
      if (parsed) serviceAreas.push(parsed);
    }
    for (const [area, p, locationId] of salAreas) {
      const parsed = this.serviceArea(area, p, record, locationId);
      if (parsed) serviceAreas.push(parsed);
    }
    if (serviceAreas.length === 0) {
      this.warn(
        `${path}.service_areas`,
        record,
        'no usable service area: the service will never match',
      );
    }

    const schedule: ScheduleEntry[] = [];
    for (const [s, p] of [...this.objects(raw, 'schedules', path, record), ...salSchedules]) {
      const entry = this.schedule(s, p, record);
      if (entry) schedule.push(entry);
    }

    const minAge = this.num(raw, 'minimum_age', path, record);
    const maxAge = this.num(raw, 'maximum_age', path, record);
    if (minAge !== undefined && maxAge !== undefined && minAge > maxAge) {
      this.error(`${path}.minimum_age`, record, `${minAge} is greater than maximum_age ${maxAge}`);
    }
    for (const [key, v] of [
      ['minimum_age', minAge],
      ['maximum_age', maxAge],
    ] as const) {
      if (v !== undefined && v < 0)
        this.error(`${path}.${key}`, record, `must not be negative, got ${v}`);
    }

    const capacity = this.capacity(raw, path, record, capacityStatus);
    if (capacityNotes) capacity.notes = capacityNotes;

    if (!id || !name) return undefined;
    return {
      id,
      organizationId,
      name,
      description: this.str(raw, 'description', path, record),
      status,
      categories,
      codes,
      languages,
      serviceAreas,
      eligibility: {
        minAge,
        maxAge,
        rules,
        description: this.str(raw, 'eligibility_description', path, record),
      },
      schedule,
      capacity,
      locationIds,
    };
  }

  private term(
    attr: Json,
    path: string,
    record: string,
  ): { taxonomy?: string; code?: string; name?: string } | undefined {
    const term = attr.taxonomy_term;
    if (term === undefined || term === null) {
      if (attr.taxonomy_term_id !== undefined) {
        this.warn(
          path,
          record,
          'attribute refers to a taxonomy term by id only (taxonomy_term not embedded): skipped',
        );
      } else {
        this.error(`${path}.taxonomy_term`, record, 'is required');
      }
      return undefined;
    }
    if (!isObject(term)) {
      this.error(`${path}.taxonomy_term`, record, `must be an object, got ${typeName(term)}`);
      return undefined;
    }
    const tp = `${path}.taxonomy_term`;
    const detail = isObject(term.taxonomy_detail) ? term.taxonomy_detail : undefined;
    const taxonomy =
      (detail && this.str(detail, 'uri', `${tp}.taxonomy_detail`, record)) ??
      this.str(term, 'taxonomy', tp, record);
    return {
      taxonomy,
      code: this.str(term, 'code', tp, record),
      name: this.str(term, 'name', tp, record),
    };
  }

  private serviceAttributes(raw: Json, path: string, record: string) {
    const categories: SdohCategory[] = [];
    const codes: Coding[] = [];
    const rules: EligibilityRule[] = [];
    let capacityStatus: CapacityStatus | undefined;
    let capacityNotes: string | undefined;
    for (const [attr, p] of this.objects(raw, 'attributes', path, record)) {
      const term = this.term(attr, p, record);
      if (!term) continue;
      const codePath = `${p}.taxonomy_term.code`;
      if (!term.taxonomy) {
        this.warn(`${p}.taxonomy_term.taxonomy`, record, 'attribute without a taxonomy: skipped');
        continue;
      }
      if (!term.code) {
        this.error(codePath, record, 'is required for a classifying attribute');
        continue;
      }
      if (term.taxonomy === SDOHCC_TAXONOMY) {
        const capacity = capacityStatusFromCode(term.code);
        if (isSdohCategory(term.code)) {
          if (!categories.includes(term.code)) categories.push(term.code);
        } else if (capacity) {
          capacityStatus = capacity;
          capacityNotes = this.str(attr, 'value', p, record);
        } else {
          this.warn(
            codePath,
            record,
            `"${term.code}" is neither an SDOH category nor a capacity status code: skipped`,
          );
        }
      } else if (term.taxonomy === CARERELAY_ELIGIBILITY_TAXONOMY) {
        const rule = this.eligibilityRule(term.code, attr, p, record);
        if (rule) rules.push(rule);
      } else if (term.taxonomy !== CARERELAY_NETWORK_TAXONOMY) {
        const coding: Coding = { system: term.taxonomy, code: term.code };
        if (term.name && term.name !== term.code) coding.display = term.name;
        if (!codes.some((c) => c.system === coding.system && c.code === coding.code))
          codes.push(coding);
      }
    }
    return { categories, codes, rules, capacityStatus, capacityNotes };
  }

  private eligibilityRule(
    attribute: string,
    attr: Json,
    path: string,
    record: string,
  ): EligibilityRule | undefined {
    const valuePath = `${path}.value`;
    const text = this.str(attr, 'value', path, record, true);
    if (!text) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.error(
        valuePath,
        record,
        `eligibility rule must be JSON like {"op":"in","values":["medicaid"]}, got ${JSON.stringify(text)}`,
      );
      return undefined;
    }
    if (!isObject(parsed)) {
      this.error(valuePath, record, 'eligibility rule must be a JSON object');
      return undefined;
    }
    const op = parsed.op;
    const description = this.str(attr, 'label', path, record);
    const isScalar = (v: unknown): v is EligibilityValue =>
      typeof v === 'string' ||
      typeof v === 'boolean' ||
      (typeof v === 'number' && Number.isFinite(v));
    if (typeof op !== 'string' || !(ELIGIBILITY_OPERATORS as readonly string[]).includes(op)) {
      this.error(
        valuePath,
        record,
        `eligibility rule "op" must be one of ${ELIGIBILITY_OPERATORS.join(', ')}, got ${JSON.stringify(op)}`,
      );
      return undefined;
    }
    const base = description ? { attribute, description } : { attribute };
    if (op === 'in' || op === 'not-in') {
      const values = parsed.values;
      if (!Array.isArray(values) || values.length === 0 || !values.every(isScalar)) {
        this.error(
          valuePath,
          record,
          `eligibility rule "${op}" needs "values": a non-empty array of strings, numbers or booleans`,
        );
        return undefined;
      }
      return { ...base, op, values };
    }
    const value = parsed.value;
    if (op === 'eq' || op === 'ne') {
      if (!isScalar(value)) {
        this.error(
          valuePath,
          record,
          `eligibility rule "${op}" needs "value": a string, number or boolean`,
        );
        return undefined;
      }
      return { ...base, op, value };
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      this.error(valuePath, record, `eligibility rule "${op}" needs a numeric "value"`);
      return undefined;
    }
    return { ...base, op: op as 'gt' | 'gte' | 'lt' | 'lte', value };
  }

  private serviceArea(
    raw: Json,
    path: string,
    record: string,
    locationId: string | undefined,
  ): ServiceArea | undefined {
    const type = this.str(raw, 'extent_type', path, record)?.toLowerCase();
    const extent = this.str(raw, 'extent', path, record);
    const description = this.str(raw, 'description', path, record);
    const name = this.str(raw, 'name', path, record);
    const withDescription = <T extends ServiceArea>(area: T): T =>
      description ? { ...area, description } : area;

    if (type === 'geojson') {
      if (!extent) {
        this.error(`${path}.extent`, record, 'is required when extent_type is geojson');
        return undefined;
      }
      return this.radiusArea(extent, `${path}.extent`, record, locationId, withDescription);
    }
    if (type === undefined || type === 'text') {
      const text = extent ?? name;
      const tokens = text?.split(/[\s,;]+/).filter(Boolean) ?? [];
      const zips = tokens.map((t) => normalizePostalCode(t));
      if (tokens.length > 0 && zips.every((z) => z !== undefined)) {
        return withDescription({
          kind: 'postal-codes',
          postalCodes: [...new Set(zips as string[])],
        });
      }
      this.warn(
        path,
        record,
        `free-text service area ${JSON.stringify(text ?? '')} is not a list of ZIP codes: skipped`,
      );
      return undefined;
    }
    this.warn(
      `${path}.extent_type`,
      record,
      `"${type}" extents are not supported (use a ZIP list or a geojson point with radius_km): skipped`,
    );
    return undefined;
  }

  private radiusArea(
    extent: string,
    path: string,
    record: string,
    locationId: string | undefined,
    withDescription: <T extends ServiceArea>(area: T) => T,
  ): ServiceArea | undefined {
    let geo: unknown;
    try {
      geo = JSON.parse(extent);
    } catch {
      this.error(path, record, 'is not valid GeoJSON (JSON parse failed)');
      return undefined;
    }
    if (!isObject(geo) || geo.type !== 'Feature') {
      this.warn(
        path,
        record,
        'GeoJSON service areas other than a Point Feature with properties.radius_km are not supported: skipped',
      );
      return undefined;
    }
    const props = isObject(geo.properties) ? geo.properties : {};
    const radiusKm = props.radius_km;
    if (typeof radiusKm !== 'number' || !Number.isFinite(radiusKm) || radiusKm <= 0) {
      if (geo.geometry && isObject(geo.geometry) && geo.geometry.type !== 'Point') {
        this.warn(
          path,
          record,
          `GeoJSON ${String(geo.geometry.type)} areas are not supported: skipped`,
        );
      } else {
        this.error(
          `${path}.properties.radius_km`,
          record,
          `must be a positive number of km, got ${JSON.stringify(radiusKm)}`,
        );
      }
      return undefined;
    }
    let center: GeoPoint | undefined;
    if (isObject(geo.geometry)) {
      const coords = geo.geometry.coordinates;
      if (
        geo.geometry.type !== 'Point' ||
        !Array.isArray(coords) ||
        coords.length < 2 ||
        typeof coords[0] !== 'number' ||
        typeof coords[1] !== 'number' ||
        Math.abs(coords[1]) > 90 ||
        Math.abs(coords[0]) > 180
      ) {
        this.error(
          `${path}.geometry`,
          record,
          'must be a Point with [longitude, latitude] coordinates',
        );
        return undefined;
      }
      center = { lat: coords[1], lon: coords[0] };
    } else if (locationId) {
      const loc = this.pendingLocations.get(locationId)?.raw;
      const lat = loc?.latitude;
      const lon = loc?.longitude;
      if (typeof lat === 'number' && typeof lon === 'number') center = { lat, lon };
      else {
        this.error(
          path,
          record,
          `radius area around location "${locationId}", which has no coordinates`,
        );
        return undefined;
      }
    } else {
      this.error(
        `${path}.geometry`,
        record,
        'a radius area needs a Point geometry or a service_at_location with coordinates',
      );
      return undefined;
    }
    return withDescription(
      locationId
        ? { kind: 'radius', center, radiusKm, locationId }
        : { kind: 'radius', center, radiusKm },
    );
  }

  private schedule(raw: Json, path: string, record: string): ScheduleEntry | undefined {
    const freq = this.str(raw, 'freq', path, record)?.toUpperCase();
    const byday = this.str(raw, 'byday', path, record);
    const opens = this.str(raw, 'opens_at', path, record);
    const closes = this.str(raw, 'closes_at', path, record);
    const description = this.str(raw, 'description', path, record);
    if (freq !== undefined && freq !== 'WEEKLY') {
      this.warn(`${path}.freq`, record, `only WEEKLY schedules are used, got "${freq}": skipped`);
      return undefined;
    }
    if (!byday || !opens || !closes) {
      this.warn(path, record, 'schedule without byday, opens_at and closes_at: skipped');
      return undefined;
    }
    const days: Weekday[] = [];
    for (const token of byday.split(',').map((t) => t.trim().toUpperCase())) {
      const day = WEEKDAY_BY_RRULE[token];
      if (!day) {
        this.error(
          `${path}.byday`,
          record,
          `"${token}" is not a weekday (MO, TU, WE, TH, FR, SA, SU)`,
        );
        return undefined;
      }
      if (!days.includes(day)) days.push(day);
    }
    const opensAt = this.time(opens, `${path}.opens_at`, record);
    const closesAt = this.time(closes, `${path}.closes_at`, record);
    if (!opensAt || !closesAt) return undefined;
    return description ? { days, opensAt, closesAt, description } : { days, opensAt, closesAt };
  }

  private time(value: string, path: string, record: string): string | undefined {
    const m = TIME.exec(value);
    if (!m) {
      this.error(path, record, `"${value}" is not a time (HH:MM)`);
      return undefined;
    }
    return `${m[1]}:${m[2]}`;
  }

  private capacity(
    raw: Json,
    path: string,
    record: string,
    explicit: CapacityStatus | undefined,
  ): Capacity {
    const entries = this.objects(raw, 'capacities', path, record);
    if (entries.length === 0) return { status: explicit ?? 'available' };
    let available = 0;
    let maximum: number | undefined;
    let unit: string | undefined;
    let updatedAt: string | undefined;
    let notes: string | undefined;
    for (const [c, p] of entries) {
      const a = this.num(c, 'available', p, record, true);
      if (a !== undefined) {
        if (a < 0) this.error(`${p}.available`, record, `must not be negative, got ${a}`);
        available += a;
      }
      const m = this.num(c, 'maximum', p, record);
      if (m !== undefined) maximum = (maximum ?? 0) + m;
      if (isObject(c.unit)) unit ??= this.str(c.unit, 'name', `${p}.unit`, record, true);
      else this.error(`${p}.unit`, record, 'is required (an object with a name)');
      const updated = this.str(c, 'updated', p, record, true);
      if (updated) {
        if (Number.isNaN(Date.parse(updated)))
          this.error(`${p}.updated`, record, `"${updated}" is not a date-time`);
        else if (!updatedAt || Date.parse(updated) > Date.parse(updatedAt)) updatedAt = updated;
      }
      notes ??= this.str(c, 'description', p, record);
    }
    const capacity: Capacity = {
      status: explicit ?? (available > 0 ? 'available' : 'no-capacity'),
      available,
    };
    if (maximum !== undefined) capacity.maximum = maximum;
    if (unit !== undefined) capacity.unit = unit;
    if (updatedAt !== undefined) capacity.updatedAt = updatedAt;
    if (notes !== undefined) capacity.notes = notes;
    return capacity;
  }
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}

function schemeToSystem(scheme: string): string {
  if (IDENTIFIER_SCHEMES[scheme]) return IDENTIFIER_SCHEMES[scheme];
  return /^[a-z][a-z0-9+.-]*:/i.test(scheme) ? scheme : `urn:org-id:${scheme}`;
}

/** The inverse of the scheme mapping, for export. */
export function systemToScheme(system: string): string {
  for (const [scheme, s] of Object.entries(IDENTIFIER_SCHEMES)) if (s === system) return scheme;
  return system.startsWith('urn:org-id:') ? system.slice('urn:org-id:'.length) : system;
}
