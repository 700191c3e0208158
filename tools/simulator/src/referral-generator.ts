import { randomUUID } from 'node:crypto';
import {
  Prng,
  SAMPLE_REGION,
  SDOH_CATEGORY_DISPLAY,
  SDOHCC_CODE_SYSTEM,
  type Coding,
  type Directory,
  type SampleZip,
  type SdohCategory,
} from '@carerelay/directory';
import type { Resource } from '@carerelay/fhir-client';
import { TASK_CODE_SYSTEM } from '@carerelay/fhir';

/**
 * Realistic referral transaction Bundles, as a hospital EHR sends them (SDOH Clinical Care IG):
 * Patient (US Core race and ethnicity, preferred language, home address with a ZIP of the sample
 * region, birth date, payer), ServiceRequest (SDOH category and code), Task (requested, owned by
 * the Coordination Platform) and a Consent to share with the network. Conditional creates on
 * business identifiers make a retried Bundle harmless.
 */

export const US_CORE_RACE = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race';
export const US_CORE_ETHNICITY =
  'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity';
const OMB = 'urn:oid:2.16.840.1.113883.6.238';
const NULL_FLAVOR = 'http://terminology.hl7.org/CodeSystem/v3-NullFlavor';
/** PHDSC Source of Payment Typology (US Core's payer type value set). */
export const PAYER_TYPOLOGY = 'urn:oid:2.16.840.1.113883.3.221.5';
/** The FHIR API serves no Coverage: the payer rides on the Patient in this extension. */
export const PAYER_EXTENSION = 'https://carerelay.example/fhir/StructureDefinition/payer-type';
export const REFERRAL_IDENTIFIER = 'https://carerelay.example/fhir/identifier/simulated-referral';

// Rough shares for Cook County (census), enough to make stratified figures non-trivial.
const RACES: ReadonlyArray<[code: string, display: string, weight: number]> = [
  ['2106-3', 'White', 42],
  ['2054-5', 'Black or African American', 28],
  ['2028-9', 'Asian', 8],
  ['1002-5', 'American Indian or Alaska Native', 1],
  ['2076-8', 'Native Hawaiian or Other Pacific Islander', 1],
  ['UNK', 'Unknown', 8],
  ['ASKU', 'Asked but no answer', 4],
];

const PAYERS: ReadonlyArray<[code: string, display: string, weight: number]> = [
  ['2', 'MEDICAID', 38],
  ['1', 'MEDICARE', 18],
  ['5', 'PRIVATE HEALTH INSURANCE', 26],
  ['81', 'Self-pay', 12],
  ['311', 'TRICARE (CHAMPUS)', 2],
  ['14', 'Dual Eligibility Medicare/Medicaid Organization', 4],
];

const GIVEN = {
  female: ['Maria', 'Aisha', 'Mei', 'Olivia', 'Fatima', 'Anna', 'Grace', 'Lucia', 'Hoa', 'Zofia'],
  male: ['Jose', 'Marcus', 'Wei', 'Liam', 'Omar', 'Piotr', 'James', 'Carlos', 'Minh', 'Ahmed'],
};
const FAMILY = [
  'Garcia',
  'Johnson',
  'Nguyen',
  'Kowalski',
  'Williams',
  'Hernandez',
  'Chen',
  'Brown',
  'Ali',
  'Lopez',
  'Kim',
  'Jackson',
  'Nowak',
  'Martinez',
  'Davis',
];

const LANGUAGE_DISPLAY: Record<string, string> = {
  en: 'English',
  es: 'Spanish',
  pl: 'Polish',
  zh: 'Chinese',
  ko: 'Korean',
  ar: 'Arabic',
  tl: 'Tagalog',
  vi: 'Vietnamese',
  am: 'Amharic',
  so: 'Somali',
  fr: 'French',
  ht: 'Haitian Creole',
  ur: 'Urdu',
  hi: 'Hindi',
  ru: 'Russian',
  gu: 'Gujarati',
};

/** What can be asked for: the (category, code) pairs the directory's services offer. */
interface Need {
  category: SdohCategory;
  code: Coding;
  weight: number;
}

// The categories most referrals are about (and that every ZIP of the sample has a service for).
const COMMON: ReadonlySet<string> = new Set([
  'food-insecurity',
  'housing-instability',
  'transportation-insecurity',
]);

export interface GeneratedReferral {
  /** The business identifier shared by the Task, ServiceRequest and Consent. */
  key: string;
  hospitalId: string;
  category: SdohCategory;
  zip: string;
  language: string;
  bundle: Resource;
  /** The Consent, when it is to be sent later rather than in the Bundle. */
  laterConsent?: Resource;
}

export interface ReferralGeneratorOptions {
  hospitalIds: readonly string[];
  platformOrganizationId: string;
  seed?: number;
  /** Share of referrals whose Consent is sent separately, after the Bundle (default 0). */
  delayedConsentShare?: number;
}

export class ReferralGenerator {
  private readonly rng: Prng;
  private readonly needs: Need[];
  private readonly runId = randomUUID().slice(0, 8);
  private count = 0;

  constructor(
    directory: Directory,
    private readonly options: ReferralGeneratorOptions,
  ) {
    this.rng = new Prng(options.seed ?? Date.now() % 2 ** 31);
    const seen = new Map<string, Need>();
    for (const service of directory.services) {
      if (service.status !== 'active') continue;
      for (const category of service.categories) {
        for (const code of service.codes) {
          const id = `${category}|${code.system}|${code.code}`;
          const need = seen.get(id) ?? { category, code, weight: 0 };
          need.weight += COMMON.has(category) ? 3 : 1;
          seen.set(id, need);
        }
      }
    }
    this.needs = [...seen.values()].sort((a, b) =>
      `${a.category}${a.code.code}`.localeCompare(`${b.category}${b.code.code}`),
    );
    if (this.needs.length === 0) throw new Error('the directory offers no active service');
  }

  next(): GeneratedReferral {
    const rng = this.rng;
    this.count += 1;
    const key = `${this.runId}-${this.count}`;
    const hospitalId = this.options.hospitalIds[this.count % this.options.hospitalIds.length];
    const need = rng.weighted(this.needs, (n) => n.weight);
    const zip = rng.pick(SAMPLE_REGION.zips);
    const language = this.languageFor(zip);
    const now = new Date();

    // Real UUIDs: a FHIR server resolves urn:uuid: references only when they are UUIDs.
    const urn = {
      patient: `urn:uuid:${randomUUID()}`,
      serviceRequest: `urn:uuid:${randomUUID()}`,
      task: `urn:uuid:${randomUUID()}`,
      consent: `urn:uuid:${randomUUID()}`,
    };
    const patient = this.patient(key, hospitalId, zip, language);
    const serviceRequest: Resource = {
      resourceType: 'ServiceRequest',
      identifier: [{ system: REFERRAL_IDENTIFIER, value: key }],
      status: 'active',
      intent: 'order',
      category: [
        {
          coding: [
            {
              system: SDOHCC_CODE_SYSTEM,
              code: need.category,
              display: SDOH_CATEGORY_DISPLAY[need.category],
            },
          ],
        },
      ],
      code: { coding: [{ ...need.code }] },
      subject: { reference: urn.patient },
      authoredOn: now.toISOString(),
      requester: { reference: `Organization/${hospitalId}` },
      priority: rng.chance(0.15) ? 'urgent' : 'routine',
    };
    const task: Resource = {
      resourceType: 'Task',
      identifier: [{ system: REFERRAL_IDENTIFIER, value: key }],
      status: 'requested',
      intent: 'order',
      priority: serviceRequest.priority,
      code: {
        coding: [
          { system: TASK_CODE_SYSTEM, code: 'fulfill', display: 'Fulfill the focal request' },
        ],
      },
      focus: { reference: urn.serviceRequest },
      for: { reference: urn.patient },
      authoredOn: now.toISOString(),
      requester: { reference: `Organization/${hospitalId}` },
      owner: { reference: `Organization/${this.options.platformOrganizationId}` },
    };
    const consent = this.consent(key, hospitalId, now, urn.patient);
    const delayed = rng.chance(this.options.delayedConsentShare ?? 0);

    const entry = (fullUrl: string, resource: Resource, ifNoneExist: string) => ({
      fullUrl,
      resource,
      request: { method: 'POST', url: resource.resourceType, ifNoneExist },
    });
    const identifierQuery = `identifier=${REFERRAL_IDENTIFIER}|${key}`;
    const mrn = patient.identifier[0] as { system: string; value: string };
    const entries = [
      entry(urn.patient, patient, `identifier=${mrn.system}|${mrn.value}`),
      entry(urn.serviceRequest, serviceRequest, identifierQuery),
      entry(urn.task, task, identifierQuery),
    ];
    if (!delayed) entries.push(entry(urn.consent, consent, identifierQuery));
    return {
      key,
      hospitalId,
      category: need.category,
      zip: zip.zip,
      language,
      bundle: { resourceType: 'Bundle', type: 'transaction', entry: entries },
      laterConsent: delayed ? consent : undefined,
    };
  }

  private languageFor(zip: SampleZip): string {
    const local = zip.languages;
    if (local.length === 0 || this.rng.chance(0.55)) return this.rng.chance(0.08) ? 'es' : 'en';
    return this.rng.pick(local);
  }

  private patient(key: string, hospitalId: string, zip: SampleZip, language: string): Resource {
    const rng = this.rng;
    const gender = rng.chance(0.52) ? 'female' : 'male';
    const age = rng.weighted([4, 15, 27, 38, 52, 67, 79], () => 1) + rng.int(0, 10);
    const birth = new Date(Date.now() - (age * 365.25 + rng.int(0, 364)) * 86_400_000);
    const [raceCode, raceDisplay] = rng.weighted(RACES, (r) => r[2]);
    const hispanic = language === 'es' ? rng.chance(0.9) : rng.chance(0.12);
    const [payerCode, payerDisplay] = rng.weighted(
      age >= 65 ? PAYERS.filter((p) => ['1', '14', '5'].includes(p[0])) : PAYERS,
      (p) => p[2],
    );
    const raceCoding =
      raceCode === 'UNK' || raceCode === 'ASKU'
        ? { system: NULL_FLAVOR, code: raceCode, display: raceDisplay }
        : { system: OMB, code: raceCode, display: raceDisplay };
    return {
      resourceType: 'Patient',
      identifier: [
        {
          system: `https://carerelay.example/fhir/identifier/${hospitalId}/mrn`,
          value: `MRN-${key}`,
        },
      ],
      extension: [
        {
          url: US_CORE_RACE,
          extension: [
            { url: 'ombCategory', valueCoding: raceCoding },
            { url: 'text', valueString: raceDisplay },
          ],
        },
        {
          url: US_CORE_ETHNICITY,
          extension: [
            {
              url: 'ombCategory',
              valueCoding: hispanic
                ? { system: OMB, code: '2135-2', display: 'Hispanic or Latino' }
                : { system: OMB, code: '2186-5', display: 'Not Hispanic or Latino' },
            },
            {
              url: 'text',
              valueString: hispanic ? 'Hispanic or Latino' : 'Not Hispanic or Latino',
            },
          ],
        },
        {
          url: PAYER_EXTENSION,
          valueCoding: { system: PAYER_TYPOLOGY, code: payerCode, display: payerDisplay },
        },
      ],
      name: [{ family: rng.pick(FAMILY), given: [rng.pick(GIVEN[gender])] }],
      gender,
      birthDate: birth.toISOString().slice(0, 10),
      address: [
        {
          use: 'home',
          line: [`${rng.int(100, 9999)} ${rng.pick(SAMPLE_REGION.streets)}`],
          city: zip.city,
          state: SAMPLE_REGION.state,
          postalCode: zip.zip,
          country: 'US',
        },
      ],
      communication: [
        {
          language: {
            coding: [
              { system: 'urn:ietf:bcp:47', code: language, display: LANGUAGE_DISPLAY[language] },
            ],
            text: LANGUAGE_DISPLAY[language] ?? language,
          },
          preferred: true,
        },
      ],
    };
  }

  private consent(key: string, hospitalId: string, now: Date, patientUrn: string): Resource {
    return {
      resourceType: 'Consent',
      identifier: [{ system: REFERRAL_IDENTIFIER, value: key }],
      status: 'active',
      scope: {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/consentscope',
            code: 'patient-privacy',
            display: 'Privacy Consent',
          },
        ],
      },
      category: [
        {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
              code: 'IDSCL',
              display: 'information disclosure',
            },
          ],
        },
      ],
      patient: { reference: patientUrn },
      dateTime: now.toISOString(),
      // The custodian (R4): the hospital that keeps the signed form. No provision: the IG's
      // network-wide permit to share the patient's SDOH referral information.
      organization: [{ reference: `Organization/${hospitalId}` }],
      sourceAttachment: {
        contentType: 'application/pdf',
        title: 'Signed authorization to share SDOH information with the referral network',
        creation: now.toISOString(),
      },
      policyRule: {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/consentpolicycodes',
            code: 'hipaa-auth',
            display: 'HIPAA Authorization',
          },
        ],
      },
    };
  }
}
