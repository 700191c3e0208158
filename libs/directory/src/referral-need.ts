// FHIR referral (ServiceRequest + Patient + Coverage) → the `ReferralNeed` that service matching
// ranks against. Anything missing gets a stated default, listed in `notes` so that it can be
// stored with the routing decision.
//
//   categories  ServiceRequest.category codings in the SDOHCC code system (SDOH domains);
//               none (or only sdoh-category-unspecified) → [] = every category considered
//   codes       ServiceRequest.code.coding; none → matched on category only
//   postalCode  the Patient's current home address (use home preferred; old or ended addresses
//               skipped; among the rest the latest period.start); none → area unverified
//   location    that address's geolocation extension (latitude/longitude), if present
//   language    Patient.communication (preferred first, else the first): BCP-47 code, other
//               code, or text such as "Spanish"; none → `defaultLanguage` ('en')
//   age         whole years from Patient.birthDate at `asOf`; none → age rules unverified
//   payer       `payer` when given, else the first active Coverage: its type (Source of Payment
//               Typology codes, or text) or payor display; none → payer rules unverified

import type {
  Address,
  CodeableConcept,
  Coverage,
  Patient,
  ServiceRequest,
} from '@medplum/fhirtypes';
import type { Coding, EligibilityValue, GeoPoint, SdohCategory } from './directory.model';
import { isSdohCategory, SDOHCC_CODE_SYSTEM } from './directory.model';
import { isValidGeoPoint, normalizePostalCode } from './geo';
import { normalizeLanguageTag } from './languages';
import { sdohDomainsOfCodes } from './sdoh-intervention-codes';
import type { ReferralNeed } from './service-matching';

export const GEOLOCATION_EXTENSION = 'http://hl7.org/fhir/StructureDefinition/geolocation';
/** PHDSC Source of Payment Typology (the US Core "Payer Type" value set). */
export const SOURCE_OF_PAYMENT_SYSTEMS = [
  'urn:oid:2.16.840.1.113883.3.221.5',
  'https://nahdo.org/sopt',
];

export interface DeriveNeedInput {
  serviceRequest: ServiceRequest;
  patient?: Patient;
  /** The patient's coverage(s); the first active one is used. */
  coverage?: Coverage | readonly Coverage[];
  /** Payer category known by other means (wins over coverage): medicaid, medicare, commercial… */
  payer?: string;
  /** More facts for eligibility rules: veteran, household-size… */
  attributes?: Readonly<Record<string, EligibilityValue | undefined>>;
  /** Organizations not to route to (already tried or rejected). */
  excludeOrganizationIds?: readonly string[];
  /** When ages and address periods are evaluated (default: now). */
  asOf?: Date;
  /** Language assumed when the patient states none (default 'en'; null: leave unknown). */
  defaultLanguage?: string | null;
}

export interface DerivedNeed {
  need: ReferralNeed;
  /** Each default applied or oddity met, in words. */
  notes: string[];
}

export function deriveReferralNeed(input: DeriveNeedInput): DerivedNeed {
  const { serviceRequest: sr, patient } = input;
  const asOf = input.asOf ?? new Date();
  const notes: string[] = [];
  const need: ReferralNeed = { categories: [] };

  // --- what is requested
  const categories: SdohCategory[] = [];
  for (const concept of sr.category ?? []) {
    for (const c of concept.coding ?? []) {
      if (c.system === SDOHCC_CODE_SYSTEM && c.code && isSdohCategory(c.code)) {
        if (c.code !== 'sdoh-category-unspecified' && !categories.includes(c.code)) {
          categories.push(c.code);
        }
      }
    }
  }
  if (categories.length === 0) {
    // The IG's category slice is 0..*: the domain then follows from the code where a value set
    // of the IG puts it in one.
    const derived = sdohDomainsOfCodes(sr.code?.coding ?? []);
    categories.push(...derived);
    notes.push(
      derived.length > 0
        ? `ServiceRequest.category has no SDOH domain: ${derived.join(', ')} derived from ServiceRequest.code`
        : 'ServiceRequest.category has no SDOH domain (SDOHCC code system): services of every category are considered',
    );
  }
  need.categories = categories;
  const codes: Coding[] = (sr.code?.coding ?? [])
    .filter((c) => c.system && c.code)
    .map((c) =>
      c.display
        ? { system: c.system!, code: c.code!, display: c.display }
        : { system: c.system!, code: c.code! },
    );
  if (codes.length > 0) need.codes = codes;
  else notes.push('ServiceRequest.code has no coding: matched on category only');

  // --- who it is for
  if (!patient) {
    notes.push('no Patient: area, language and age unknown');
  } else {
    const subject = sr.subject?.reference;
    if (subject && patient.id && !subject.endsWith(`Patient/${patient.id}`)) {
      notes.push(
        `ServiceRequest.subject is ${subject} but the Patient given is Patient/${patient.id}`,
      );
    }
    const address = currentHomeAddress(patient.address ?? [], asOf);
    if (!address) {
      notes.push('Patient has no current address: service area unverified');
    } else {
      const zip = normalizePostalCode(address.postalCode);
      if (zip) need.postalCode = zip;
      else {
        notes.push(
          address.postalCode
            ? `Patient address postal code "${address.postalCode}" is not a US ZIP code: area unverified`
            : 'Patient address has no postal code: area unverified',
        );
      }
      const point = geolocation(address);
      if (point) need.location = point;
    }
    const age = ageFrom(patient.birthDate, asOf, notes);
    if (age !== undefined) need.age = age;
  }

  const language = patient ? preferredLanguage(patient, notes) : undefined;
  if (language) need.language = language;
  else if (input.defaultLanguage !== null) {
    const fallback = input.defaultLanguage ?? 'en';
    need.language = fallback;
    notes.push(`no preferred language stated: assuming ${fallback}`);
  }

  // --- eligibility facts
  const attributes: Record<string, EligibilityValue | undefined> = { ...input.attributes };
  const payer =
    input.payer !== undefined ? normalizePayer(input.payer) : payerFromCoverage(input.coverage);
  if (payer) attributes.payer = payer;
  else if (attributes.payer === undefined) {
    notes.push('payer unknown: services restricted by payer are ranked as eligibility unverified');
  }
  if (Object.keys(attributes).length > 0) need.attributes = attributes;
  if (input.excludeOrganizationIds?.length) {
    need.excludeOrganizationIds = [...input.excludeOrganizationIds];
  }
  return { need, notes };
}

function inPeriod(period: Address['period'], asOf: Date): boolean {
  if (!period) return true;
  const t = asOf.getTime();
  if (period.start && Date.parse(period.start) > t) return false;
  if (period.end && Date.parse(period.end) < t) return false;
  return true;
}

function currentHomeAddress(addresses: readonly Address[], asOf: Date): Address | undefined {
  const current = addresses.filter(
    (a) =>
      a.use !== 'old' && a.use !== 'billing' && a.type !== 'postal' && inPeriod(a.period, asOf),
  );
  const rank = (a: Address) => (a.use === 'home' ? 0 : a.use === undefined ? 1 : 2);
  const started = (a: Address) => (a.period?.start ? Date.parse(a.period.start) : -Infinity);
  return [...current].sort((a, b) => rank(a) - rank(b) || started(b) - started(a))[0];
}

function geolocation(address: Address): GeoPoint | undefined {
  const ext = address.extension?.find((e) => e.url === GEOLOCATION_EXTENSION);
  const lat = ext?.extension?.find((e) => e.url === 'latitude')?.valueDecimal;
  const lon = ext?.extension?.find((e) => e.url === 'longitude')?.valueDecimal;
  const point = { lat, lon };
  return isValidGeoPoint(point) ? point : undefined;
}

function ageFrom(birthDate: string | undefined, asOf: Date, notes: string[]): number | undefined {
  if (!birthDate) {
    notes.push(
      'Patient.birthDate missing: age-restricted services are ranked as eligibility unverified',
    );
    return undefined;
  }
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/.exec(birthDate);
  if (!m) {
    notes.push(`Patient.birthDate "${birthDate}" is not a FHIR date: age unknown`);
    return undefined;
  }
  const year = Number(m[1]);
  const month = m[2] ? Number(m[2]) : 1;
  const day = m[3] ? Number(m[3]) : 1;
  if (!m[3]) notes.push(`Patient.birthDate "${birthDate}" is partial: age approximate`);
  const y = asOf.getUTCFullYear();
  const beforeBirthday =
    asOf.getUTCMonth() + 1 < month || (asOf.getUTCMonth() + 1 === month && asOf.getUTCDate() < day);
  const age = y - year - (beforeBirthday ? 1 : 0);
  if (age < 0 || age > 130) {
    notes.push(`Patient.birthDate "${birthDate}" gives an impossible age: age unknown`);
    return undefined;
  }
  return age;
}

function languageOf(concept: CodeableConcept | undefined): string | undefined {
  if (!concept) return undefined;
  const codings = concept.coding ?? [];
  const bcp47 = codings.find((c) => c.system === 'urn:ietf:bcp:47' && c.code);
  for (const c of bcp47 ? [bcp47, ...codings] : codings) {
    const tag = normalizeLanguageTag(c.code) ?? normalizeLanguageTag(c.display);
    if (tag) return tag;
  }
  return normalizeLanguageTag(concept.text);
}

function preferredLanguage(patient: Patient, notes: string[]): string | undefined {
  const comms = patient.communication ?? [];
  const ordered = [...comms.filter((c) => c.preferred), ...comms.filter((c) => !c.preferred)];
  for (const c of ordered) {
    const tag = languageOf(c.language);
    if (tag) return tag;
  }
  if (comms.length > 0) notes.push('Patient.communication language not recognised');
  return undefined;
}

const PAYER_WORDS: ReadonlyArray<[RegExp, string]> = [
  [/medicare.*medicaid|medicaid.*medicare|dual/i, 'medicare-medicaid'],
  [/medicaid|chip\b/i, 'medicaid'],
  [/medicare/i, 'medicare'],
  [/tricare|veteran|\bva\b/i, 'military'],
  [/self[- ]?pay|uninsured|no insurance|none/i, 'uninsured'],
  [/commercial|private|employer|marketplace|blue cross|bcbs/i, 'commercial'],
];

/** A payer category from free text: "Medicaid" → medicaid, "Self-pay" → uninsured. */
export function normalizePayer(value: string): string | undefined {
  const v = value.trim();
  if (!v) return undefined;
  for (const [re, payer] of PAYER_WORDS) if (re.test(v)) return payer;
  return v.toLowerCase();
}

/** Source of Payment Typology: the first digit is the payer family. */
function payerFromSop(code: string): string | undefined {
  if (code === '14' || code === '141' || code === '142') return 'medicare-medicaid';
  switch (code[0]) {
    case '1':
      return 'medicare';
    case '2':
      return 'medicaid';
    case '3':
      return code.startsWith('31') || code.startsWith('32') ? 'military' : 'government';
    case '5':
    case '6':
      return 'commercial';
    case '8':
      return 'uninsured';
    default:
      return undefined;
  }
}

function payerFromCoverage(
  coverage: Coverage | readonly Coverage[] | undefined,
): string | undefined {
  const list: readonly Coverage[] =
    coverage === undefined ? [] : isCoverageList(coverage) ? coverage : [coverage];
  const active = list.find((c) => c.status === 'active');
  if (!active) return undefined;
  for (const c of active.type?.coding ?? []) {
    if (c.code && c.system && SOURCE_OF_PAYMENT_SYSTEMS.includes(c.system)) {
      const payer = payerFromSop(c.code);
      if (payer) return payer;
    }
  }
  const text = active.type?.text ?? active.type?.coding?.find((c) => c.display)?.display;
  if (text) return normalizePayer(text);
  const payor = active.payor?.find((p) => p.display)?.display;
  return payor ? normalizePayer(payor) : undefined;
}

function isCoverageList(c: Coverage | readonly Coverage[]): c is readonly Coverage[] {
  return Array.isArray(c);
}
