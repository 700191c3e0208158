// The part of Open Referral HSDS 3.0 (JSON, "compiled" nested form) that the directory reads and
// writes. Field names are HSDS's own. Only what the mapping uses is typed; other HSDS fields are
// allowed and ignored.

import { SDOHCC_CODE_SYSTEM } from './directory.model';

/** Base of the taxonomies CareRelay defines for what HSDS has no field for. */
export const CARERELAY_HSDS_TAXONOMY_BASE = 'https://carerelay.example/hsds/taxonomy';
/** Organization attribute: term code = network id, term name = network name. */
export const CARERELAY_NETWORK_TAXONOMY = `${CARERELAY_HSDS_TAXONOMY_BASE}/network`;
/**
 * Service attribute: term code = the attribute tested (`payer`, `veteran`…), attribute value =
 * the rule as JSON: `{"op":"in","values":["medicaid"]}`, `{"op":"eq","value":true}`.
 */
export const CARERELAY_ELIGIBILITY_TAXONOMY = `${CARERELAY_HSDS_TAXONOMY_BASE}/eligibility`;
/** SDOH categories and capacity status codes are terms of the SDOHCC code system. */
export const SDOHCC_TAXONOMY = SDOHCC_CODE_SYSTEM;

export interface HsdsTaxonomy {
  id: string;
  name: string;
  description: string;
  uri?: string;
  version?: string;
}

export interface HsdsTaxonomyTerm {
  id: string;
  code?: string;
  name: string;
  description: string;
  parent_id?: string;
  /** Which taxonomy, ideally as a URI (a code system URI for FHIR code systems). */
  taxonomy?: string;
  taxonomy_detail?: HsdsTaxonomy;
  taxonomy_id?: string;
  language?: string;
  term_uri?: string;
}

export interface HsdsAttribute {
  id: string;
  link_id?: string;
  link_type?: string;
  link_entity?: string;
  taxonomy_term_id?: string;
  taxonomy_term?: HsdsTaxonomyTerm;
  value?: string;
  label?: string;
}

export interface HsdsLanguage {
  id: string;
  service_id?: string;
  location_id?: string;
  name?: string;
  /** ISO 639-1 or 639-2 (BCP-47 accepted too). */
  code?: string;
  note?: string;
}

export interface HsdsServiceArea {
  id: string;
  service_id?: string;
  service_at_location_id?: string;
  name?: string;
  description?: string;
  extent?: string;
  /** geojson | topojson | kml | text */
  extent_type?: string;
  uri?: string;
}

export interface HsdsSchedule {
  id: string;
  service_id?: string;
  location_id?: string;
  service_at_location_id?: string;
  freq?: string;
  interval?: number;
  byday?: string;
  opens_at?: string;
  closes_at?: string;
  description?: string;
  timezone?: string;
  valid_from?: string;
  valid_to?: string;
  dtstart?: string;
  until?: string;
  notes?: string;
}

export interface HsdsUnit {
  id: string;
  name: string;
  scheme?: string;
  identifier?: string;
  uri?: string;
}

export interface HsdsServiceCapacity {
  id: string;
  service_id?: string;
  unit: HsdsUnit;
  available: number;
  maximum?: number;
  description?: string;
  updated: string;
}

export interface HsdsAddress {
  id: string;
  location_id?: string;
  attention?: string;
  address_1: string;
  address_2?: string;
  city: string;
  region?: string;
  state_province: string;
  postal_code: string;
  country: string;
  /** physical | postal | virtual */
  address_type: string;
}

export interface HsdsPhone {
  id: string;
  number: string;
  type?: string;
}

export interface HsdsLocation {
  id: string;
  /** physical | postal | virtual */
  location_type: string;
  organization_id?: string;
  name?: string;
  description?: string;
  latitude?: number;
  longitude?: number;
  addresses?: HsdsAddress[];
}

export interface HsdsServiceAtLocation {
  id: string;
  service_id?: string;
  location_id?: string;
  description?: string;
  location?: HsdsLocation;
  service_areas?: HsdsServiceArea[];
  schedules?: HsdsSchedule[];
}

export interface HsdsService {
  id: string;
  organization_id?: string;
  name: string;
  description?: string;
  url?: string;
  email?: string;
  /** active | inactive | defunct | temporarily closed */
  status: string;
  eligibility_description?: string;
  minimum_age?: number;
  maximum_age?: number;
  phones?: HsdsPhone[];
  schedules?: HsdsSchedule[];
  service_areas?: HsdsServiceArea[];
  service_at_locations?: HsdsServiceAtLocation[];
  languages?: HsdsLanguage[];
  capacities?: HsdsServiceCapacity[];
  attributes?: HsdsAttribute[];
}

export interface HsdsOrganizationIdentifier {
  id: string;
  organization_id?: string;
  identifier_scheme?: string;
  identifier_type: string;
  identifier: string;
}

export interface HsdsOrganization {
  id: string;
  name: string;
  description: string;
  email?: string;
  website?: string;
  phones?: HsdsPhone[];
  organization_identifiers?: HsdsOrganizationIdentifier[];
  locations?: HsdsLocation[];
  services?: HsdsService[];
  attributes?: HsdsAttribute[];
}

/**
 * A directory as one JSON document: organizations with their services and locations nested.
 * The importer also accepts a bare array of organizations and an HSDS API page (`contents`), and
 * top-level `services` / `locations` linked by `organization_id`.
 */
export interface HsdsDocument {
  organizations: HsdsOrganization[];
  services?: HsdsService[];
  locations?: HsdsLocation[];
}
