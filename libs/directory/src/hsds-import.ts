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
  Directory,
  Location,
  Organization,
  OrganizationIdentifier,
  Service,
  ScheduleEntry,
  ServiceArea,
} from './directory.model';
import { mapServiceArea } from './hsds-area.mapping';
import { mapServiceAttributes, readTerm } from './hsds-attribute.mapping';
import { mapCapacity, mapSchedule } from './hsds-availability.mapping';
import { mapLocation } from './hsds-location.mapping';
import { mapAges, mapLanguages, mapStatus } from './hsds-service.mapping';
import { HsdsReader, type HsdsIssue, isObject, type Json, typeName } from './hsds.reader';
import { CARERELAY_NETWORK_TAXONOMY } from './hsds.types';

/** org-id.guide scheme ↔ FHIR identifier system, for the identifiers US CBOs carry. */
export const IDENTIFIER_SCHEMES: Readonly<Record<string, string>> = {
  'US-EIN': 'urn:oid:2.16.840.1.113883.4.4',
  'US-NPI': 'http://hl7.org/fhir/sid/us-npi',
};

export type { HsdsIssue } from './hsds.reader';

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
  private readonly r = new HsdsReader();
  private readonly organizations: Organization[] = [];
  private readonly orgIds = new Set<string>();
  private readonly pendingLocations = new Map<string, PendingLocation>();
  private readonly pendingServices: PendingService[] = [];
  private readonly locations = new Map<string, Location>();
  /** Which organization's services refer to a location, for locations given without one. */
  private readonly locationUsers = new Map<string, string>();

  private readonly locationRaw = (id: string): Json | undefined =>
    this.pendingLocations.get(id)?.raw;

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
    if (this.r.errors.length > 0) {
      return { ok: false, errors: this.r.errors, warnings: this.r.warnings };
    }
    return {
      ok: true,
      directory: {
        organizations: this.organizations,
        services,
        locations: [...this.locations.values()],
      },
      warnings: this.r.warnings,
    };
  }

  private root(
    input: unknown,
  ):
    | { organizations: unknown[]; orgPath: string; services?: unknown[]; locations?: unknown[] }
    | undefined {
    if (Array.isArray(input)) return { organizations: input, orgPath: '' };
    if (!isObject(input)) {
      this.r.error(
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
        this.r.error(key, undefined, 'must be an array');
        return undefined;
      }
      return v;
    };
    const contents = list('contents');
    const organizations = list('organizations');
    if (organizations === undefined && contents === undefined) {
      this.r.error('organizations', undefined, 'is required (an array of HSDS organizations)');
      return undefined;
    }
    return {
      organizations: organizations ?? contents ?? [],
      orgPath: organizations !== undefined ? 'organizations' : 'contents',
      services: list('services'),
      locations: list('locations'),
    };
  }

  // ---- organizations

  private organization(raw: unknown, path: string): void {
    if (!isObject(raw)) {
      this.r.error(path, undefined, `an organization must be an object, got ${typeName(raw)}`);
      return;
    }
    const id = this.r.str(raw, 'id', path, 'organization', true);
    const record = id ? `organization "${id}"` : 'organization';
    const name = this.r.str(raw, 'name', path, record, true);
    // Without a name the organization is still walked, so that its services' errors show too.
    if (!id) return;
    if (this.orgIds.has(id)) {
      this.r.error(`${path}.id`, record, 'duplicate organization id');
      return;
    }
    this.orgIds.add(id);

    const identifiers: OrganizationIdentifier[] = [];
    for (const [ident, p] of this.r.objects(raw, 'organization_identifiers', path, record)) {
      const value = this.r.str(ident, 'identifier', p, record, true);
      const type = this.r.str(ident, 'identifier_type', p, record);
      const scheme = this.r.str(ident, 'identifier_scheme', p, record);
      if (!value) continue;
      if (!scheme)
        this.r.warn(
          `${p}.identifier_scheme`,
          record,
          'missing: identifier kept with a placeholder system',
        );
      identifiers.push({ system: schemeToSystem(scheme ?? type ?? 'unknown'), value, type });
    }

    const networks: string[] = [];
    for (const [attr, p] of this.r.objects(raw, 'attributes', path, record)) {
      const term = readTerm(this.r, attr, p, record);
      if (term?.taxonomy === CARERELAY_NETWORK_TAXONOMY) {
        if (term.code) networks.push(term.code);
        else
          this.r.error(
            `${p}.taxonomy_term.code`,
            record,
            'network attribute needs the network id as its code',
          );
      }
    }

    const phone = this.r
      .objects(raw, 'phones', path, record)
      .map(([ph, p]) => this.r.str(ph, 'number', p, record))
      .find((n) => n !== undefined);

    if (name) {
      this.organizations.push({
        id,
        name,
        description: this.r.str(raw, 'description', path, record),
        networks,
        identifiers,
        website: this.r.str(raw, 'website', path, record),
        email: this.r.str(raw, 'email', path, record),
        phone,
      });
    }

    this.r
      .arr(raw, 'locations', path, record)
      .forEach((l, i) => this.collectLocation(l, `${path}.locations[${i}]`, id));
    this.r.arr(raw, 'services', path, record).forEach((s, i) => {
      const p = `${path}.services[${i}]`;
      if (!isObject(s)) {
        this.r.error(p, record, `a service must be an object, got ${typeName(s)}`);
        return;
      }
      const declared = this.r.str(s, 'organization_id', p, undefined);
      if (declared && declared !== id) {
        this.r.error(
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
      this.r.error(path, undefined, `a service must be an object, got ${typeName(raw)}`);
      return;
    }
    const record = `service "${String(raw.id)}"`;
    const orgId = this.r.str(raw, 'organization_id', path, record, true);
    if (!orgId) return;
    if (!this.orgIds.has(orgId)) {
      this.r.error(`${path}.organization_id`, record, `refers to unknown organization "${orgId}"`);
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
      this.r.error(path, undefined, `a location must be an object, got ${typeName(raw)}`);
      return undefined;
    }
    const id = this.r.str(raw, 'id', path, 'location', true);
    if (!id) return undefined;
    const existing = this.pendingLocations.get(id);
    if (existing) {
      // The same location embedded twice (e.g. under two services) is fine; two different ones are not.
      if (JSON.stringify(existing.raw) !== JSON.stringify(raw)) {
        this.r.error(
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
      const declaredOrg = this.r.str(raw, 'organization_id', path, record);
      if (declaredOrg && !this.orgIds.has(declaredOrg)) {
        this.r.error(
          `${path}.organization_id`,
          record,
          `refers to unknown organization "${declaredOrg}"`,
        );
      }
      const orgId = organizationId ?? declaredOrg ?? this.locationUsers.get(id);
      if (!orgId) this.r.warn(path, record, 'belongs to no organization and no service uses it');
      const location = mapLocation(this.r, raw, path, id, orgId ?? '');
      if (location) this.locations.set(id, location);
    }
  }

  // ---- services

  private service({ raw, path, organizationId }: PendingService): Service | undefined {
    const id = this.r.str(raw, 'id', path, 'service', true);
    const record = id ? `service "${id}"` : 'service';
    const name = this.r.str(raw, 'name', path, record, true);
    const rawStatus = this.r.str(raw, 'status', path, record, true);
    const status = mapStatus(this.r, rawStatus, path, record);

    // service_at_locations: locations, and the areas and schedules attached to them
    const locationIds: string[] = [];
    const salLocation = new Map<string, string>();
    const salAreas: Array<[Json, string, string]> = [];
    const salSchedules: Array<[Json, string]> = [];
    for (const [sal, p] of this.r.objects(raw, 'service_at_locations', path, record)) {
      let locationId = this.r.str(sal, 'location_id', p, record);
      if (isObject(sal.location)) {
        const embedded = this.collectLocation(sal.location, `${p}.location`, undefined);
        if (locationId && embedded && embedded !== locationId) {
          this.r.error(
            `${p}.location_id`,
            record,
            `is "${locationId}" but the embedded location is "${embedded}"`,
          );
        }
        locationId = locationId ?? embedded;
      } else if (sal.location !== undefined && sal.location !== null) {
        this.r.error(`${p}.location`, record, `must be an object, got ${typeName(sal.location)}`);
      }
      if (!locationId) {
        this.r.error(`${p}.location_id`, record, 'is required (or an embedded location)');
        continue;
      }
      if (!locationIds.includes(locationId)) locationIds.push(locationId);
      if (!this.locationUsers.has(locationId)) this.locationUsers.set(locationId, organizationId);
      const salId = this.r.str(sal, 'id', p, record);
      if (salId) salLocation.set(salId, locationId);
      for (const [area, ap] of this.r.objects(sal, 'service_areas', p, record))
        salAreas.push([area, ap, locationId]);
      salSchedules.push(...this.r.objects(sal, 'schedules', p, record));
    }
    for (const locationId of locationIds) {
      if (!this.pendingLocations.has(locationId)) {
        this.r.error(
          `${path}.service_at_locations`,
          record,
          `refers to unknown location "${locationId}"`,
        );
      }
    }

    const { categories, codes, rules, capacityStatus, capacityNotes } = mapServiceAttributes(
      this.r,
      raw,
      path,
      record,
    );
    if (categories.length === 0) {
      this.r.warn(
        `${path}.attributes`,
        record,
        'no SDOH category (SDOHCC taxonomy term): it will only match needs without a category',
      );
    }

    const languages = mapLanguages(this.r, raw, path, record);

    const serviceAreas: ServiceArea[] = [];
    for (const [area, p] of this.r.objects(raw, 'service_areas', path, record)) {
      const salId = this.r.str(area, 'service_at_location_id', p, record);
      let locationId: string | undefined;
      if (salId) {
        locationId = salLocation.get(salId);
        if (!locationId)
          this.r.error(
            `${p}.service_at_location_id`,
            record,
            `refers to unknown service_at_location "${salId}"`,
          );
      }
      const parsed = mapServiceArea(this.r, this.locationRaw, area, p, record, locationId);
      if (parsed) serviceAreas.push(parsed);
    }
    for (const [area, p, locationId] of salAreas) {
      const parsed = mapServiceArea(this.r, this.locationRaw, area, p, record, locationId);
      if (parsed) serviceAreas.push(parsed);
    }
    if (serviceAreas.length === 0) {
      this.r.warn(
        `${path}.service_areas`,
        record,
        'no usable service area: the service will never match',
      );
    }

    const schedule: ScheduleEntry[] = [];
    for (const [s, p] of [...this.r.objects(raw, 'schedules', path, record), ...salSchedules]) {
      const entry = mapSchedule(this.r, s, p, record);
      if (entry) schedule.push(entry);
    }

    const { minAge, maxAge } = mapAges(this.r, raw, path, record);

    const capacity = mapCapacity(this.r, raw, path, record, capacityStatus);
    if (capacityNotes) capacity.notes = capacityNotes;

    if (!id || !name) return undefined;
    return {
      id,
      organizationId,
      name,
      description: this.r.str(raw, 'description', path, record),
      status,
      categories,
      codes,
      languages,
      serviceAreas,
      eligibility: {
        minAge,
        maxAge,
        rules,
        description: this.r.str(raw, 'eligibility_description', path, record),
      },
      schedule,
      capacity,
      locationIds,
    };
  }
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
