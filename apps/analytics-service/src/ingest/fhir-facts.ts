import { createHash } from 'node:crypto';

/**
 * What the analytics read model keeps of a FHIR resource: bands and codes only. No name, no
 * identifier, no birth date leaves this file; the patient is known by a one-way pseudonym of its
 * resource id so that referral events and Patient changes join whichever arrives first.
 */

export const US_CORE_RACE = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race';
export const US_CORE_ETHNICITY =
  'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity';
/** PHDSC Source of Payment Typology (US Core's payer type value set). */
export const PAYER_TYPOLOGY = 'urn:oid:2.16.840.1.113883.3.221.5';
/** The simulator's payer extension on the Patient, read until it sends Coverage. */
export const PAYER_EXTENSION = 'https://carerelay.example/fhir/StructureDefinition/payer-type';
export const SDOHCC_CODE_SYSTEM =
  'http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes';

/** A stable pseudonym of a Patient id (or reference): never the id itself. */
export function patientKeyOf(patientIdOrReference: string | undefined | null): string | null {
  if (!patientIdOrReference) return null;
  const id = patientIdOrReference.replace(/^.*Patient\//, '');
  if (!id) return null;
  return createHash('sha256').update(`carerelay-patient:${id}`).digest('hex').slice(0, 32);
}

type Json = Record<string, unknown>;
interface Coding {
  system?: string;
  code?: string;
}

const asArray = (value: unknown): Json[] =>
  Array.isArray(value) ? value.filter((v): v is Json => typeof v === 'object' && v !== null) : [];
const codingsOf = (concept: unknown): Coding[] =>
  asArray((concept as Json | undefined)?.coding) as Coding[];
const refId = (reference: unknown, type: string): string | null => {
  const ref = (reference as Json | undefined)?.reference;
  if (typeof ref !== 'string') return null;
  const match = new RegExp(`(?:^|/)${type}/([A-Za-z0-9\\-.]{1,64})$`).exec(ref);
  return match ? match[1] : null;
};

export const AGE_BANDS = ['0-17', '18-34', '35-49', '50-64', '65+'] as const;

/** The age band of someone born on `birthDate` (YYYY[-MM[-DD]]) at `at`; null when unknown. */
export function ageBandOf(birthDate: unknown, at: Date): string | null {
  if (typeof birthDate !== 'string') return null;
  const match = /^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?/.exec(birthDate);
  if (!match) return null;
  const [year, month = 7, day = 1] = [
    Number(match[1]),
    Number(match[2] ?? 7),
    Number(match[3] ?? 1),
  ];
  let age = at.getUTCFullYear() - year;
  const beforeBirthday =
    at.getUTCMonth() + 1 < month || (at.getUTCMonth() + 1 === month && at.getUTCDate() < day);
  if (beforeBirthday) age -= 1;
  if (age < 0 || age > 130) return null;
  if (age < 18) return '0-17';
  if (age < 35) return '18-34';
  if (age < 50) return '35-49';
  if (age < 65) return '50-64';
  return '65+';
}

/** US Core race or ethnicity: the OMB category code, `multiple` for more than one. */
function omb(resource: Json, url: string): string | null {
  const extension = asArray(resource.extension).find((e) => e.url === url);
  if (!extension) return null;
  const codes = asArray(extension.extension)
    .filter((e) => e.url === 'ombCategory')
    .map((e) => (e.valueCoding as Coding | undefined)?.code)
    .filter((c): c is string => typeof c === 'string' && c.length > 0);
  const unique = [...new Set(codes)];
  if (unique.length === 0) return null;
  return unique.length === 1 ? unique[0] : 'multiple';
}

export interface PatientFacts {
  patientKey: string;
  race: string | null;
  ethnicity: string | null;
  language: string | null;
  zip: string | null;
  ageBand: string | null;
  sex: string | null;
  payerExtension: string | null;
}

export function patientFactsOf(id: string, resource: Json, at: Date): PatientFacts {
  const communication = asArray(resource.communication);
  const preferred = communication.find((c) => c.preferred === true) ?? communication[0];
  const language =
    codingsOf(preferred?.language)
      .map((c) => c.code)
      .find((c): c is string => typeof c === 'string')
      ?.split('-')[0]
      .toLowerCase() ?? null;
  const addresses = asArray(resource.address);
  const home = addresses.find((a) => a.use === 'home') ?? addresses[0];
  const postal = typeof home?.postalCode === 'string' ? /^\d{5}/.exec(home.postalCode) : null;
  const payer = asArray(resource.extension).find((e) => e.url === PAYER_EXTENSION);
  const payerCode = (payer?.valueCoding as Coding | undefined)?.code;
  return {
    patientKey: patientKeyOf(id)!,
    race: omb(resource, US_CORE_RACE),
    ethnicity: omb(resource, US_CORE_ETHNICITY),
    language,
    zip: postal ? postal[0] : null,
    ageBand: ageBandOf(resource.birthDate, at),
    sex: typeof resource.gender === 'string' ? resource.gender : null,
    payerExtension: typeof payerCode === 'string' ? payerCode : null,
  };
}

export interface ServiceRequestFacts {
  id: string;
  category: string | null;
  code: string | null;
}

export function serviceRequestFactsOf(id: string, resource: Json): ServiceRequestFacts {
  const categories = asArray(resource.category).flatMap(codingsOf);
  const category =
    categories.find(
      (c) => c.system === SDOHCC_CODE_SYSTEM && c.code !== 'sdoh-category-unspecified',
    )?.code ??
    categories.find((c) => typeof c.code === 'string')?.code ??
    null;
  const code = codingsOf(resource.code).find((c) => typeof c.code === 'string')?.code ?? null;
  return { id, category, code };
}

/** A Task's links: a referral's id is its source Task's id. */
export interface TaskFacts {
  taskId: string;
  serviceRequestId: string | null;
  patientKey: string | null;
}

export function taskFactsOf(id: string, resource: Json): TaskFacts {
  return {
    taskId: id,
    serviceRequestId: refId(resource.focus, 'ServiceRequest'),
    patientKey: patientKeyOf(refId(resource.for, 'Patient')),
  };
}

export interface CoverageFacts {
  coverageId: string;
  patientKey: string | null;
  payer: string | null;
  active: boolean;
}

/** US Core Coverage: the payer type (PHDSC typology), else the payor organization. */
export function coverageFactsOf(id: string, resource: Json): CoverageFacts {
  const types = codingsOf(resource.type);
  const type =
    types.find((c) => c.system === PAYER_TYPOLOGY && c.code)?.code ??
    types.find((c) => typeof c.code === 'string')?.code;
  const payor = asArray(resource.payor)[0];
  const payorId = refId(payor, 'Organization');
  return {
    coverageId: id,
    patientKey: patientKeyOf(refId(resource.beneficiary, 'Patient')),
    payer: type ?? (payorId ? `payor:${payorId}` : null),
    active: resource.status === undefined || resource.status === 'active',
  };
}
