// A deterministic, realistic sample directory for tests, demos and benchmarks: CBOs across the
// Chicago area (see sample-region.ts) running food, housing, transportation… services, with
// neighbourhood languages, ZIP-list and radius service areas, eligibility rules, weekly hours and
// mixed capacity. Same options, same directory, byte for byte (seeded PRNG, no clock).
//
// Service codes: the food services use SNOMED CT codes that appear in the SDOH Clinical Care IG's
// examples; the others use SAMPLE_SERVICE_CODE_SYSTEM, a local code system for this sample only
// (no SNOMED code is invented here).

import type {
  Capacity,
  Coding,
  Directory,
  Eligibility,
  EligibilityRule,
  GeoPoint,
  Location,
  Organization,
  ScheduleEntry,
  SdohCategory,
  Service,
  ServiceArea,
  Weekday,
} from './directory.model';
import { haversineKm } from './geo';
import { directoryToHsds } from './hsds-export';
import type { HsdsDocument } from './hsds.types';
import { Prng } from './prng';
import { SAMPLE_REGION, type SampleZip } from './sample-region';

export const SAMPLE_SERVICE_CODE_SYSTEM =
  'https://carerelay.example/fhir/CodeSystem/sample-service';
export const SAMPLE_NETWORKS = [
  'chicago-north',
  'chicago-central',
  'chicago-south',
  'cook-county-sdoh',
];

const SNOMED = 'http://snomed.info/sct';
const EIN_SYSTEM = 'urn:oid:2.16.840.1.113883.4.4';
const NPI_SYSTEM = 'http://hl7.org/fhir/sid/us-npi';

/** The seed of the sample directory the demo network, its directory service and its bots share. */
export const SAMPLE_DIRECTORY_SEED = 42;

export interface SampleDirectoryOptions {
  /** PRNG seed (default 42). */
  seed?: number;
  /** Number of services (default 240). */
  services?: number;
  /** Number of organizations (default: max(60, services / 3.5), at most `services`). */
  organizations?: number;
}

const snomed = (code: string, display: string): Coding => ({ system: SNOMED, code, display });
const local = (code: string, display: string): Coding => ({
  system: SAMPLE_SERVICE_CODE_SYSTEM,
  code,
  display,
});

interface Template {
  group: string;
  name: string;
  categories: SdohCategory[];
  codes: Coding[];
  unit: string;
  weight: number;
  eligibility?: (rng: Prng) => Omit<Eligibility, 'rules'> & { rules?: EligibilityRule[] };
  /** Most services of this kind serve a whole side of the city rather than a few ZIPs. */
  wideArea?: boolean;
}

const TEMPLATES: readonly Template[] = [
  // food insecurity
  {
    group: 'food',
    name: 'Emergency food pantry',
    categories: ['food-insecurity'],
    codes: [snomed('710925007', 'Provision of food')],
    unit: 'households per week',
    weight: 10,
  },
  {
    group: 'food',
    name: 'Food pantry enrollment help',
    categories: ['food-insecurity'],
    codes: [snomed('467771000124109', 'Assistance with application for food pantry program')],
    unit: 'appointments per week',
    weight: 8,
  },
  {
    group: 'food',
    name: 'Summer meals sign-up for kids',
    categories: ['food-insecurity'],
    codes: [
      snomed('467681000124101', 'Assistance with application for Summer Food Service Program'),
    ],
    unit: 'children',
    weight: 3,
    eligibility: () => ({ maxAge: 18, description: 'Children and teens 18 and under' }),
  },
  {
    group: 'food',
    name: 'Community garden program',
    categories: ['food-insecurity', 'social-connection'],
    codes: [snomed('467751000124104', 'Assistance with application for garden program')],
    unit: 'garden plots',
    weight: 2,
  },
  {
    group: 'food',
    name: 'Home-delivered meals for seniors',
    categories: ['food-insecurity'],
    codes: [
      snomed('710925007', 'Provision of food'),
      local('home-delivered-meals', 'Home-delivered meals'),
    ],
    unit: 'meal routes',
    weight: 4,
    eligibility: () => ({ minAge: 60, description: 'Adults 60 and older who are homebound' }),
    wideArea: true,
  },
  {
    group: 'food',
    name: 'SNAP application assistance',
    categories: ['food-insecurity', 'financial-insecurity'],
    codes: [local('snap-application-assistance', 'SNAP application assistance')],
    unit: 'appointments per week',
    weight: 4,
  },
  // housing
  {
    group: 'housing',
    name: 'Emergency rental assistance',
    categories: ['housing-instability'],
    codes: [local('rental-assistance', 'Emergency rental assistance')],
    unit: 'grants per month',
    weight: 5,
    eligibility: (rng) => ({
      rules: [
        {
          attribute: 'income-percent-ami',
          op: 'lte',
          value: rng.pick([50, 60, 80]),
          description: 'Household income at or below the area median limit',
        },
      ],
    }),
    wideArea: true,
  },
  {
    group: 'housing',
    name: 'Eviction prevention legal clinic',
    categories: ['housing-instability'],
    codes: [local('eviction-legal-aid', 'Eviction prevention legal aid')],
    unit: 'cases per month',
    weight: 4,
  },
  {
    group: 'housing',
    name: 'Housing counseling',
    categories: ['housing-instability', 'financial-insecurity'],
    codes: [local('housing-counseling', 'Housing counseling')],
    unit: 'appointments per week',
    weight: 3,
  },
  {
    group: 'housing',
    name: 'Emergency shelter',
    categories: ['homelessness'],
    codes: [local('emergency-shelter', 'Emergency shelter')],
    unit: 'beds',
    weight: 4,
    eligibility: (rng) =>
      rng.chance(0.5) ? { minAge: 18, description: 'Adults 18 and older' } : {},
    wideArea: true,
  },
  {
    group: 'housing',
    name: 'Street outreach',
    categories: ['homelessness'],
    codes: [local('street-outreach', 'Street outreach')],
    unit: 'outreach slots',
    weight: 2,
  },
  {
    group: 'housing',
    name: 'Rapid rehousing program',
    categories: ['homelessness', 'housing-instability'],
    codes: [local('rapid-rehousing', 'Rapid rehousing')],
    unit: 'households',
    weight: 2,
  },
  {
    group: 'housing',
    name: 'Senior home repair program',
    categories: ['inadequate-housing'],
    codes: [local('home-repair', 'Home repair assistance')],
    unit: 'repairs per month',
    weight: 2,
    eligibility: () => ({ minAge: 62, rules: [{ attribute: 'homeowner', op: 'eq', value: true }] }),
  },
  // transportation
  {
    group: 'transportation',
    name: 'Rides to medical appointments',
    categories: ['transportation-insecurity'],
    codes: [local('medical-rides', 'Non-emergency medical transportation')],
    unit: 'rides per week',
    weight: 5,
    eligibility: () => ({
      rules: [{ attribute: 'payer', op: 'in', values: ['medicaid', 'medicare-medicaid'] }],
      description: 'Medicaid members',
    }),
    wideArea: true,
  },
  {
    group: 'transportation',
    name: 'Senior ride program',
    categories: ['transportation-insecurity', 'social-connection'],
    codes: [local('senior-rides', 'Volunteer driver program')],
    unit: 'rides per week',
    weight: 3,
    eligibility: () => ({ minAge: 65 }),
  },
  {
    group: 'transportation',
    name: 'Transit card assistance',
    categories: ['transportation-insecurity'],
    codes: [local('transit-pass', 'Reduced-fare transit pass assistance')],
    unit: 'passes per month',
    weight: 3,
  },
  // money, utilities, work
  {
    group: 'financial',
    name: 'Free tax preparation',
    categories: ['financial-insecurity'],
    codes: [local('tax-preparation', 'Free tax preparation')],
    unit: 'appointments per week',
    weight: 2,
  },
  {
    group: 'financial',
    name: 'Financial coaching',
    categories: ['financial-insecurity', 'medical-cost-burden'],
    codes: [local('financial-coaching', 'Financial coaching')],
    unit: 'clients',
    weight: 2,
  },
  {
    group: 'financial',
    name: 'Public benefits screening',
    categories: ['financial-insecurity', 'material-hardship'],
    codes: [local('benefits-screening', 'Public benefits screening')],
    unit: 'appointments per week',
    weight: 3,
  },
  {
    group: 'financial',
    name: 'Utility bill assistance',
    categories: ['utility-insecurity', 'financial-insecurity'],
    codes: [local('energy-assistance', 'Energy bill assistance')],
    unit: 'grants per month',
    weight: 4,
    eligibility: (rng) => ({
      rules: [{ attribute: 'income-percent-fpl', op: 'lte', value: rng.pick([150, 200]) }],
    }),
    wideArea: true,
  },
  {
    group: 'financial',
    name: 'Water shutoff prevention',
    categories: ['utility-insecurity'],
    codes: [local('water-shutoff-prevention', 'Water shutoff prevention')],
    unit: 'cases per month',
    weight: 1,
  },
  {
    group: 'work',
    name: 'Job readiness training',
    categories: ['employment-status'],
    codes: [local('job-readiness', 'Job readiness training')],
    unit: 'seats',
    weight: 3,
    eligibility: () => ({ minAge: 18 }),
  },
  {
    group: 'work',
    name: 'Youth employment program',
    categories: ['employment-status', 'educational-attainment'],
    codes: [local('youth-employment', 'Youth employment program')],
    unit: 'seats',
    weight: 2,
    eligibility: () => ({ minAge: 16, maxAge: 24 }),
  },
  {
    group: 'work',
    name: 'GED and adult education classes',
    categories: ['educational-attainment'],
    codes: [local('adult-education', 'Adult education')],
    unit: 'seats',
    weight: 2,
    eligibility: () => ({ minAge: 16 }),
  },
  // safety, connection, coverage
  {
    group: 'community',
    name: 'Senior companionship calls',
    categories: ['social-connection', 'stress'],
    codes: [local('companionship-calls', 'Friendly visitor and phone calls')],
    unit: 'clients',
    weight: 2,
    eligibility: () => ({ minAge: 60 }),
    wideArea: true,
  },
  {
    group: 'community',
    name: 'Domestic violence advocacy',
    categories: ['intimate-partner-violence'],
    codes: [local('dv-advocacy', 'Domestic violence advocacy')],
    unit: 'clients',
    weight: 3,
    wideArea: true,
  },
  {
    group: 'community',
    name: 'Elder abuse prevention',
    categories: ['elder-abuse'],
    codes: [local('elder-abuse-services', 'Elder abuse prevention and advocacy')],
    unit: 'cases per month',
    weight: 2,
    eligibility: () => ({ minAge: 60 }),
    wideArea: true,
  },
  {
    group: 'community',
    name: 'Veteran benefits navigation',
    categories: ['veteran-status', 'financial-insecurity'],
    codes: [local('veteran-benefits', 'Veteran benefits navigation')],
    unit: 'appointments per week',
    weight: 3,
    eligibility: () => ({
      rules: [
        { attribute: 'veteran', op: 'eq', value: true, description: 'Veterans and their families' },
      ],
    }),
  },
  {
    group: 'community',
    name: 'Health coverage enrollment help',
    categories: ['health-insurance-coverage-status'],
    codes: [local('coverage-enrollment', 'Health insurance enrollment assistance')],
    unit: 'appointments per week',
    weight: 3,
    eligibility: () => ({
      rules: [{ attribute: 'payer', op: 'in', values: ['uninsured', 'medicaid'] }],
    }),
  },
  {
    group: 'community',
    name: 'Diaper and clothing bank',
    categories: ['material-hardship'],
    codes: [local('diaper-clothing-bank', 'Diaper and clothing bank')],
    unit: 'households per week',
    weight: 2,
  },
  {
    group: 'community',
    name: 'Peer counseling',
    categories: ['stress', 'social-connection'],
    codes: [local('peer-counseling', 'Peer support counseling')],
    unit: 'clients',
    weight: 2,
  },
];

const ORG_SUFFIXES: Readonly<Record<string, readonly string[]>> = {
  food: ['Food Pantry', 'Community Kitchen', 'Neighbors Food Share', 'Food Collaborative'],
  housing: ['Housing Partners', 'Tenant Aid', 'Housing Alliance', 'Shelter Network'],
  transportation: ['Ride Connect', 'Mobility Partners', 'Community Rides'],
  financial: [
    'Financial Opportunity Center',
    'Benefits Access Project',
    'Energy Assistance Office',
  ],
  work: ['Workforce Center', 'Jobs Partnership', 'Learning Center'],
  community: ['Community Center', 'Family Services', 'Senior Services', 'Neighborhood Association'],
  multi: [
    'Family Services',
    'Community Action Agency',
    'Neighborhood House',
    'Settlement House',
    'Community Services Center',
  ],
};

const LANGUAGE_FALLBACK = ['es', 'pl', 'zh', 'ar', 'vi', 'ko', 'ru', 'tl', 'ur', 'fr', 'ht', 'so'];

interface SchedulePattern {
  entries: Array<{ days: Weekday[]; opensAt: string; closesAt: string; description?: string }>;
}

const WEEKDAYS_MF: Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri'];
const SCHEDULES: readonly SchedulePattern[] = [
  { entries: [{ days: WEEKDAYS_MF, opensAt: '09:00', closesAt: '17:00' }] },
  { entries: [{ days: WEEKDAYS_MF, opensAt: '08:30', closesAt: '16:30' }] },
  {
    entries: [
      {
        days: ['tue', 'thu'],
        opensAt: '10:00',
        closesAt: '14:00',
        description: 'Walk-in distribution',
      },
    ],
  },
  {
    entries: [
      { days: ['mon', 'wed', 'fri'], opensAt: '09:00', closesAt: '13:00' },
      { days: ['sat'], opensAt: '09:00', closesAt: '12:00', description: 'Saturday distribution' },
    ],
  },
  {
    entries: [
      {
        days: ['mon', 'tue', 'wed', 'thu'],
        opensAt: '12:00',
        closesAt: '20:00',
        description: 'Evening hours',
      },
    ],
  },
  {
    entries: [
      {
        days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
        opensAt: '00:00',
        closesAt: '23:59',
        description: 'Open 24/7',
      },
    ],
  },
];

const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** A valid NPI: 9 digits starting with 1 plus the Luhn check digit over the 80840 prefix. */
function npi(rng: Prng): string {
  const base = `1${pad(rng.int(0, 99_999_999), 8)}`;
  const digits = `80840${base}`.split('').map(Number);
  let sum = 0;
  for (let i = digits.length - 1, double = true; i >= 0; i--, double = !double) {
    let d = digits[i];
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return `${base}${(10 - (sum % 10)) % 10}`;
}

function jitter(rng: Prng, center: GeoPoint, maxKm: number): GeoPoint {
  // ~111 km per degree of latitude; a degree of longitude is shorter by cos(latitude).
  const dLat = rng.float(-maxKm, maxKm) / 111;
  const dLon = rng.float(-maxKm, maxKm) / (111 * Math.cos((center.lat * Math.PI) / 180));
  const round = (x: number) => Math.round(x * 1e6) / 1e6;
  return { lat: round(center.lat + dLat), lon: round(center.lon + dLon) };
}

function networkOf(zip: SampleZip): string {
  if (zip.lat >= 41.9) return 'chicago-north';
  if (zip.lat >= 41.83) return 'chicago-central';
  return 'chicago-south';
}

/** The generated directory. Meets: ≥ 200 services (by default), ≥ 60 organizations, ≥ 50 ZIPs. */
export function generateSampleDirectory(options: SampleDirectoryOptions = {}): Directory {
  const seed = options.seed ?? SAMPLE_DIRECTORY_SEED;
  const serviceCount = options.services ?? 240;
  if (!Number.isInteger(serviceCount) || serviceCount < 1) {
    throw new Error(`services must be a positive integer, got ${serviceCount}`);
  }
  const orgCount = Math.min(
    options.organizations ?? Math.max(60, Math.ceil(serviceCount / 3.5)),
    serviceCount,
  );
  const rng = new Prng(seed);
  const zips = SAMPLE_REGION.zips;
  const chicagoZips = zips.filter((z) => z.city === 'Chicago').map((z) => z.zip);
  const nearest = new Map(
    zips.map((z) => [
      z.zip,
      zips
        .filter((o) => o.zip !== z.zip)
        .map((o) => ({ zip: o.zip, km: haversineKm(z, o) }))
        .sort((a, b) => a.km - b.km || (a.zip < b.zip ? -1 : 1))
        .map((o) => o.zip),
    ]),
  );
  const idWidth = Math.max(4, String(orgCount).length);

  // How many services each organization runs: one each, the rest to a skewed set of larger orgs.
  const sizes = new Array<number>(orgCount).fill(1);
  const heft = Array.from({ length: orgCount }, () => 1 + rng.next() ** 3 * 8);
  const orgIndexes = sizes.map((_, i) => i);
  for (let extra = serviceCount - orgCount; extra > 0; extra--) {
    sizes[rng.weighted(orgIndexes, (i) => heft[i])]++;
  }

  const organizations: Organization[] = [];
  const locations: Location[] = [];
  const services: Service[] = [];
  const usedNames = new Set<string>();
  const baseUpdated = Date.UTC(2025, 0, 6, 9, 0, 0);

  for (let o = 0; o < orgCount; o++) {
    // Home ZIPs go round the region first, so every ZIP has at least one organization.
    const home = o < zips.length ? zips[(o * 7) % zips.length] : rng.pick(zips);
    const orgId = `org-${pad(o + 1, idWidth)}`;
    const group = rng.chance(0.35)
      ? 'multi'
      : rng.weighted(['food', 'housing', 'transportation', 'financial', 'work', 'community'], (g) =>
          TEMPLATES.filter((t) => t.group === g).reduce((s, t) => s + t.weight, 0),
        );
    let name = `${home.name} ${rng.pick(ORG_SUFFIXES[group])}`;
    for (let n = 2; usedNames.has(name); n++)
      name = `${home.name} ${rng.pick(ORG_SUFFIXES[group])} ${n}`;
    usedNames.add(name);
    const site = slug(name);

    const networks = [networkOf(home)];
    if (rng.chance(0.3)) networks.push('cook-county-sdoh');
    const identifiers = [
      {
        system: EIN_SYSTEM,
        value: `${rng.int(10, 99)}-${pad(rng.int(0, 9_999_999), 7)}`,
        type: 'EIN',
      },
    ];
    if (rng.chance(0.3)) identifiers.push({ system: NPI_SYSTEM, value: npi(rng), type: 'NPI' });
    organizations.push({
      id: orgId,
      name,
      description: `${name} serves ${home.name} and nearby neighborhoods.`,
      networks,
      identifiers,
      website: `https://${site}.example.org`,
      email: `help@${site}.example.org`,
      phone: `${rng.pick(['312', '773', '872'])}-555-01${pad(rng.int(0, 99), 2)}`,
    });

    // 1–3 sites: the main one in the home ZIP, others in neighbouring ZIPs.
    const siteZips = [home];
    const siteCount = sizes[o] >= 4 ? rng.int(2, 3) : rng.chance(0.2) ? 2 : 1;
    for (const zip of nearest.get(home.zip)!.slice(0, 4)) {
      if (siteZips.length >= siteCount) break;
      if (rng.chance(0.6)) siteZips.push(zips.find((z) => z.zip === zip)!);
    }
    const orgLocations: Location[] = siteZips.map((zip, i) => ({
      id: `loc-${pad(o + 1, idWidth)}-${i + 1}`,
      organizationId: orgId,
      name: i === 0 ? `${name} main office` : `${name} — ${zip.name} site`,
      address: {
        line: [`${rng.int(100, 9800)} ${rng.pick(SAMPLE_REGION.streets)}`],
        city: zip.city,
        state: SAMPLE_REGION.state,
        postalCode: zip.zip,
        country: 'US',
      },
      coordinates: jitter(rng, zip, 0.8),
    }));
    locations.push(...orgLocations);

    const candidates = group === 'multi' ? TEMPLATES : TEMPLATES.filter((t) => t.group === group);
    for (let s = 0; s < sizes[o]; s++) {
      const template = rng.weighted(candidates, (t) => t.weight);
      const where = rng.pick(orgLocations);
      const whereZip = siteZips[orgLocations.indexOf(where)];
      services.push(
        makeService(rng, {
          id: `svc-${pad(o + 1, idWidth)}-${pad(s + 1, 2)}`,
          org: organizations[o],
          template,
          where,
          whereZip,
          // The first service of each organization lists ZIPs, so the ZIP lists cover the region.
          zipArea: s === 0 || rng.chance(0.6),
          nearest: nearest.get(whereZip.zip)!,
          chicagoZips,
          updated: new Date(baseUpdated + rng.int(0, 60 * 24) * 3_600_000).toISOString(),
        }),
      );
    }
  }
  ensureCoverage(services, locations, zips);
  return { organizations, services, locations };
}

/** The needs referrals most often carry; every ZIP gets at least one open service for each. */
const GUARANTEED_CATEGORIES: readonly SdohCategory[] = [
  'food-insecurity',
  'housing-instability',
  'transportation-insecurity',
];

/**
 * Random areas can leave a ZIP with no open, unrestricted service for a common need (no food
 * pantry in Pilsen would make a poor demo). Add such a ZIP to the nearest open service's ZIP list.
 */
function ensureCoverage(
  services: Service[],
  locations: readonly Location[],
  zips: readonly SampleZip[],
): void {
  const coords = new Map(locations.map((l) => [l.id, l.coordinates!]));
  const covers = (s: Service, zip: SampleZip) =>
    s.serviceAreas.some((a) =>
      a.kind === 'postal-codes'
        ? a.postalCodes.includes(zip.zip)
        : haversineKm(a.center, zip) <= a.radiusKm,
    );
  for (const category of GUARANTEED_CATEGORIES) {
    const open = services.filter(
      (s) =>
        s.status === 'active' &&
        s.categories.includes(category) &&
        s.capacity.status !== 'no-capacity' &&
        s.eligibility.rules.length === 0 &&
        s.eligibility.minAge === undefined &&
        s.eligibility.maxAge === undefined,
    );
    const listed = open.filter((s) => s.serviceAreas.some((a) => a.kind === 'postal-codes'));
    if (listed.length === 0) continue;
    for (const zip of zips) {
      if (open.some((s) => covers(s, zip))) continue;
      const distance = (s: Service) => haversineKm(coords.get(s.locationIds[0])!, zip);
      const nearest = listed.reduce((best, s) => (distance(s) < distance(best) ? s : best));
      const area = nearest.serviceAreas.find((a) => a.kind === 'postal-codes')!;
      area.postalCodes.push(zip.zip);
    }
  }
}

interface ServiceSeed {
  id: string;
  org: Organization;
  template: Template;
  where: Location;
  whereZip: SampleZip;
  zipArea: boolean;
  nearest: readonly string[];
  chicagoZips: readonly string[];
  updated: string;
}

function makeService(rng: Prng, seed: ServiceSeed): Service {
  const { template, where, whereZip } = seed;

  const languages = ['en'];
  for (const lang of whereZip.languages) if (rng.chance(0.75)) languages.push(lang);
  // Spanish is the region's second language: many CBOs have Spanish-speaking staff anywhere.
  if (!languages.includes('es') && rng.chance(0.3)) languages.push('es');
  if (rng.chance(0.12)) {
    const extra = rng.pick(LANGUAGE_FALLBACK);
    if (!languages.includes(extra)) languages.push(extra);
  }
  // A few community organizations work only in their community's language.
  if (languages.length > 1 && rng.chance(0.04)) languages.shift();

  let serviceAreas: ServiceArea[];
  if (seed.zipArea) {
    const citywide = template.wideArea && rng.chance(0.35);
    const postalCodes = citywide
      ? [...seed.chicagoZips]
      : [
          whereZip.zip,
          ...seed.nearest.slice(0, rng.int(template.wideArea ? 6 : 1, template.wideArea ? 14 : 6)),
        ];
    serviceAreas = [{ kind: 'postal-codes', postalCodes }];
    if (citywide) serviceAreas[0].description = 'City of Chicago residents';
  } else {
    const radiusKm = template.wideArea ? rng.int(8, 20) : rng.int(2, 8);
    serviceAreas = [
      { kind: 'radius', center: { ...where.coordinates! }, radiusKm, locationId: where.id },
    ];
  }

  const extra = template.eligibility?.(rng) ?? {};
  const eligibility: Eligibility = { ...extra, rules: extra.rules ?? [] };

  const roll = rng.next();
  const status: Capacity['status'] =
    roll < 0.7 ? 'available' : roll < 0.9 ? 'waitlist' : 'no-capacity';
  const capacity: Capacity = { status };
  if (rng.chance(0.8)) {
    const maximum = rng.int(10, 120);
    capacity.available = status === 'available' ? rng.int(1, maximum) : 0;
    capacity.maximum = maximum;
    capacity.unit = template.unit;
    capacity.updatedAt = seed.updated;
  }
  if (status === 'waitlist') capacity.notes = `About ${rng.int(3, 60)} people on the waitlist`;

  const schedule: ScheduleEntry[] = rng
    .pick(SCHEDULES)
    .entries.map((e) => ({ ...e, days: [...e.days] }));

  return {
    id: seed.id,
    organizationId: seed.org.id,
    name: template.name,
    description: `${template.name} at ${seed.org.name}.`,
    status: rng.chance(0.05) ? 'inactive' : 'active',
    categories: [...template.categories],
    codes: template.codes.map((c) => ({ ...c })),
    languages,
    serviceAreas,
    eligibility,
    schedule,
    capacity,
    locationIds: [where.id],
  };
}

/** The same sample, as an Open Referral HSDS 3.0 document. */
export function generateSampleHsds(options: SampleDirectoryOptions = {}): HsdsDocument {
  return directoryToHsds(generateSampleDirectory(options));
}
