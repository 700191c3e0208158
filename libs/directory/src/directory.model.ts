// The directory's domain model: CBOs, the services they run, where they run them. Plain,
// JSON-serialisable data (it travels in directory.events.v1 records and is stored as JSONB), no
// behaviour. Terminology constants live next to the types that use them.

/** Gravity SDOH category codes (and the IG's other temporary codes) live in this code system. */
export const SDOHCC_CODE_SYSTEM =
  'http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes';

/** The SDOH domains of the SDOHCC category value set, with their displays. */
export const SDOH_CATEGORY_DISPLAY = {
  'food-insecurity': 'Food Insecurity',
  'housing-instability': 'Housing Instability',
  homelessness: 'Homelessness',
  'inadequate-housing': 'Inadequate Housing',
  'transportation-insecurity': 'Transportation Insecurity',
  'financial-insecurity': 'Financial Insecurity',
  'material-hardship': 'Material Hardship',
  'educational-attainment': 'Educational Attainment',
  'employment-status': 'Employment Status',
  'veteran-status': 'Veteran Status',
  stress: 'Stress',
  'social-connection': 'Social Connection',
  'intimate-partner-violence': 'Intimate Partner Violence',
  'elder-abuse': 'Elder Abuse',
  'personal-health-literacy': 'Personal Health Literacy',
  'health-insurance-coverage-status': 'Health Insurance Coverage Status',
  'medical-cost-burden': 'Medical Cost Burden',
  'digital-literacy': 'Digital Literacy',
  'digital-access': 'Digital Access',
  'utility-insecurity': 'Utility Insecurity',
  'language-access': 'Language Status',
  'incarceration-status': 'Incarceration Status',
  'sdoh-category-unspecified': 'SDOH Category Unspecified',
} as const;

export type SdohCategory = keyof typeof SDOH_CATEGORY_DISPLAY;

export const SDOH_CATEGORIES = Object.keys(SDOH_CATEGORY_DISPLAY) as SdohCategory[];

export function isSdohCategory(code: string): code is SdohCategory {
  return Object.prototype.hasOwnProperty.call(SDOH_CATEGORY_DISPLAY, code);
}

/**
 * Capacity of a service to take a new person. `waitlist` = no capacity now, but it keeps a
 * waitlist (the referral can still go there, ranked lower).
 */
export type CapacityStatus = 'available' | 'waitlist' | 'no-capacity';

/**
 * The SDOH IG STU 3 capacity status codes (SDOHCC-ValueSetCapacityStatus, in the SDOHCC code
 * system) for each status. The IG source names the waitlist code `no-capacity-has-waitlist`; some
 * renderings of the published page show `waitlist`, so both are accepted on input.
 */
export const CAPACITY_STATUS_CODES: Record<CapacityStatus, { code: string; display: string }> = {
  available: { code: 'capacity', display: 'Has Capacity' },
  waitlist: { code: 'no-capacity-has-waitlist', display: 'No Capacity - Has Waitlist' },
  'no-capacity': { code: 'no-capacity', display: 'No Capacity' },
};

export const CAPACITY_STATUSES: readonly CapacityStatus[] = [
  'available',
  'waitlist',
  'no-capacity',
];

/** The capacity status for an IG capacity code (or one of our own status names), if known. */
export function capacityStatusFromCode(code: string): CapacityStatus | undefined {
  switch (code) {
    case 'capacity':
    case 'available':
      return 'available';
    case 'no-capacity-has-waitlist':
    case 'waitlist':
      return 'waitlist';
    case 'no-capacity':
      return 'no-capacity';
    default:
      return undefined;
  }
}

export interface Coding {
  system: string;
  code: string;
  display?: string;
}

export interface GeoPoint {
  lat: number;
  lon: number;
}

export interface OrganizationIdentifier {
  /** A FHIR identifier system, e.g. `http://hl7.org/fhir/sid/us-npi`. */
  system: string;
  value: string;
  /** Free-text kind, e.g. "EIN", "NPI". */
  type?: string;
}

export interface Organization {
  id: string;
  name: string;
  description?: string;
  /** Ids of the referral networks this organization belongs to. */
  networks: string[];
  identifiers: OrganizationIdentifier[];
  website?: string;
  email?: string;
  phone?: string;
}

export interface PostalAddress {
  line: string[];
  city: string;
  /** Two-letter state code. */
  state: string;
  postalCode: string;
  country: string;
}

export interface Location {
  id: string;
  organizationId: string;
  name: string;
  /** Absent for virtual locations and records that only give coordinates. */
  address?: PostalAddress;
  coordinates?: GeoPoint;
}

/** The service is offered to residents of these ZIP codes (5-digit). */
export interface PostalCodeArea {
  kind: 'postal-codes';
  postalCodes: string[];
  description?: string;
}

/** The service is offered within `radiusKm` of `center` (usually one of its locations). */
export interface RadiusArea {
  kind: 'radius';
  center: GeoPoint;
  radiusKm: number;
  /** The location the radius is drawn around, when it is one. */
  locationId?: string;
  description?: string;
}

export type ServiceArea = PostalCodeArea | RadiusArea;

export type EligibilityValue = string | number | boolean;

/**
 * An eligibility rule as data. Attributes are the ones a referral need carries (`payer`,
 * `veteran`, `household-size`…); string comparisons ignore case.
 */
export type EligibilityRule =
  | { attribute: string; op: 'eq' | 'ne'; value: EligibilityValue; description?: string }
  | { attribute: string; op: 'in' | 'not-in'; values: EligibilityValue[]; description?: string }
  | { attribute: string; op: 'gt' | 'gte' | 'lt' | 'lte'; value: number; description?: string };

export type EligibilityOperator = EligibilityRule['op'];

export const ELIGIBILITY_OPERATORS: readonly EligibilityOperator[] = [
  'eq',
  'ne',
  'in',
  'not-in',
  'gt',
  'gte',
  'lt',
  'lte',
];

export interface Eligibility {
  /** Inclusive, in whole years. */
  minAge?: number;
  /** Inclusive, in whole years. */
  maxAge?: number;
  rules: EligibilityRule[];
  description?: string;
}

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

export const WEEKDAYS: readonly Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

/** HSDS-like weekly opening hours: on these days, from `opensAt` to `closesAt` (HH:MM, local). */
export interface ScheduleEntry {
  days: Weekday[];
  opensAt: string;
  closesAt: string;
  description?: string;
}

export interface Capacity {
  status: CapacityStatus;
  /** Units available now (HSDS service_capacity.available). */
  available?: number;
  maximum?: number;
  /** What is counted, e.g. "beds", "rides per week". */
  unit?: string;
  /** ISO date-time of the last update. */
  updatedAt?: string;
  /** Human note, e.g. "about 15 households on the waitlist". */
  notes?: string;
}

export type ServiceStatus = 'active' | 'inactive';

export interface Service {
  id: string;
  organizationId: string;
  name: string;
  description?: string;
  status: ServiceStatus;
  /** The SDOH domains the service helps with. */
  categories: SdohCategory[];
  /** What exactly it provides: SNOMED CT procedure codes or other service codes. */
  codes: Coding[];
  /** BCP-47 tags of languages spoken by staff (not through an interpreter). */
  languages: string[];
  /** Where people must live to use it; covered when any area covers the person. */
  serviceAreas: ServiceArea[];
  eligibility: Eligibility;
  schedule: ScheduleEntry[];
  capacity: Capacity;
  /** Locations where the service is delivered. */
  locationIds: string[];
}

export interface Directory {
  organizations: Organization[];
  services: Service[];
  locations: Location[];
}
