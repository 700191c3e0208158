import type { Coverage, Patient, ServiceRequest } from '@medplum/fhirtypes';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { deriveReferralNeed, normalizePayer } from './referral-need';
import type { Service } from './directory.model';
import { rankServices } from './service-matching';

const IG_EXAMPLES = path.resolve(__dirname, '../../../../shared/fhir/sdoh-ig-examples');
const haveExamples = fs.existsSync(IG_EXAMPLES);
const igExample = <T>(name: string): T =>
  JSON.parse(fs.readFileSync(path.join(IG_EXAMPLES, name), 'utf8')) as T;

const SDOHCC =
  'http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes';
const asOf = new Date('2025-06-01T12:00:00Z');

const foodRequest: ServiceRequest = {
  resourceType: 'ServiceRequest',
  id: 'sr-1',
  status: 'active',
  intent: 'order',
  category: [
    { coding: [{ system: 'http://snomed.info/sct', code: '410606002' }] },
    { coding: [{ system: SDOHCC, code: 'food-insecurity', display: 'Food Insecurity' }] },
  ],
  code: {
    coding: [
      {
        system: 'http://snomed.info/sct',
        code: '467771000124109',
        display: 'Assistance with application for food pantry program',
      },
    ],
  },
  subject: { reference: 'Patient/p-1' },
};

const maria: Patient = {
  resourceType: 'Patient',
  id: 'p-1',
  birthDate: '1990-07-15',
  address: [
    { use: 'old', line: ['1 Old Rd'], city: 'Chicago', postalCode: '60614' },
    {
      use: 'home',
      line: ['2700 S Pulaski Rd'],
      city: 'Chicago',
      state: 'IL',
      postalCode: '60623-4410',
      period: { start: '2021-03-01' },
      extension: [
        {
          url: 'http://hl7.org/fhir/StructureDefinition/geolocation',
          extension: [
            { url: 'latitude', valueDecimal: 41.8436 },
            { url: 'longitude', valueDecimal: -87.7245 },
          ],
        },
      ],
    },
  ],
  communication: [
    { language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'en' }] } },
    { language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'es-MX' }] }, preferred: true },
  ],
};

const medicaid: Coverage = {
  resourceType: 'Coverage',
  status: 'active',
  type: {
    coding: [{ system: 'urn:oid:2.16.840.1.113883.3.221.5', code: '2', display: 'MEDICAID' }],
  },
  beneficiary: { reference: 'Patient/p-1' },
  payor: [{ display: 'Illinois Department of Healthcare and Family Services' }],
};

describe('deriveReferralNeed', () => {
  it('takes category and code from the ServiceRequest, area/language/age from the Patient, payer from Coverage', () => {
    const { need, notes } = deriveReferralNeed({
      serviceRequest: foodRequest,
      patient: maria,
      coverage: medicaid,
      excludeOrganizationIds: ['org-9'],
      asOf,
    });
    expect(need).toEqual({
      categories: ['food-insecurity'],
      codes: [foodRequest.code!.coding![0]],
      postalCode: '60623',
      location: { lat: 41.8436, lon: -87.7245 },
      language: 'es-MX',
      age: 34,
      attributes: { payer: 'medicaid' },
      excludeOrganizationIds: ['org-9'],
    });
    expect(notes).toEqual([]);
  });

  it('computes the age in whole years at asOf (birthday not yet reached)', () => {
    const { need } = deriveReferralNeed({
      serviceRequest: foodRequest,
      patient: { ...maria, birthDate: '1990-06-02' },
      asOf,
    });
    expect(need.age).toBe(34);
    const { need: after } = deriveReferralNeed({
      serviceRequest: foodRequest,
      patient: { ...maria, birthDate: '1990-06-01' },
      asOf,
    });
    expect(after.age).toBe(35);
  });

  it('derives the SDOH domain from the code when the ServiceRequest has no category (IG slice 0..*)', () => {
    const { category: _category, ...uncategorized } = foodRequest;
    const { need, notes } = deriveReferralNeed({ serviceRequest: uncategorized, asOf });
    expect(need.categories).toEqual(['food-insecurity']);
    expect(notes).toContain(
      'ServiceRequest.category has no SDOH domain: food-insecurity derived from ServiceRequest.code',
    );
    // A category that names a domain wins over the code.
    const housing = deriveReferralNeed({
      serviceRequest: {
        ...foodRequest,
        category: [{ coding: [{ system: SDOHCC, code: 'housing-instability' }] }],
      },
      asOf,
    });
    expect(housing.need.categories).toEqual(['housing-instability']);
    // A code of no known domain: every category, ranked on the code.
    const local = deriveReferralNeed({
      serviceRequest: {
        ...uncategorized,
        code: { coding: [{ system: 'https://hospital.example/codes', code: 'rent-help' }] },
      },
      asOf,
    });
    expect(local.need).toMatchObject({
      categories: [],
      codes: [{ system: 'https://hospital.example/codes', code: 'rent-help' }],
    });
  });

  it('gives clear defaults, each noted, when parts are missing', () => {
    const { need, notes } = deriveReferralNeed({
      serviceRequest: { ...foodRequest, category: [], code: undefined },
      patient: { resourceType: 'Patient', id: 'p-1' },
      asOf,
    });
    expect(need).toEqual({ categories: [], language: 'en' });
    expect(notes).toEqual([
      'ServiceRequest.category has no SDOH domain (SDOHCC code system): services of every category are considered',
      'ServiceRequest.code has no coding: matched on category only',
      'Patient has no current address: service area unverified',
      'Patient.birthDate missing: age-restricted services are ranked as eligibility unverified',
      'no preferred language stated: assuming en',
      'payer unknown: services restricted by payer are ranked as eligibility unverified',
    ]);
    expect(
      deriveReferralNeed({ serviceRequest: foodRequest, defaultLanguage: null, asOf }).need
        .language,
    ).toBeUndefined();
  });

  it('reads languages given as text and payers given as text', () => {
    const { need } = deriveReferralNeed({
      serviceRequest: foodRequest,
      patient: { ...maria, communication: [{ language: { text: 'Vietnamese' } }] },
      payer: 'Self-pay',
      asOf,
    });
    expect(need.language).toBe('vi');
    expect(need.attributes).toEqual({ payer: 'uninsured' });
    expect(normalizePayer('Blue Cross PPO')).toBe('commercial');
    expect(normalizePayer('Medicare')).toBe('medicare');
  });

  (haveExamples ? it : it.skip)(
    "derives a need from the IG's ServiceRequest and Patient examples",
    () => {
      const { need, notes } = deriveReferralNeed({
        serviceRequest: igExample<ServiceRequest>(
          'ServiceRequest-SDOHCC-ServiceRequestActiveFoodPantryApplicationAssistExample.json',
        ),
        patient: igExample<Patient>('Patient-pat-53234.json'),
        asOf,
      });
      // The 2016–2020 address has ended; the current one is in 74048. Born 1987-02-20.
      expect(need).toMatchObject({
        categories: ['food-insecurity'],
        codes: [{ system: 'http://snomed.info/sct', code: '467771000124109' }],
        postalCode: '74048',
        age: 38,
        language: 'en',
      });
      expect(notes).toContain('no preferred language stated: assuming en');
    },
  );

  it('feeds rankServices end to end: the Spanish-speaking patient gets the Spanish-speaking food service', () => {
    const base: Service = {
      id: 'a-pantry-en',
      organizationId: 'org-a',
      name: 'Pantry',
      status: 'active',
      categories: ['food-insecurity'],
      codes: [foodRequest.code!.coding![0] as Service['codes'][number]],
      languages: ['en'],
      serviceAreas: [{ kind: 'postal-codes', postalCodes: ['60623'] }],
      eligibility: { rules: [{ attribute: 'payer', op: 'in', values: ['medicaid'] }] },
      schedule: [],
      capacity: { status: 'available' },
      locationIds: [],
    };
    const spanish: Service = {
      ...base,
      id: 'b-pantry-es',
      organizationId: 'org-b',
      languages: ['en', 'es'],
    };
    const { need } = deriveReferralNeed({
      serviceRequest: foodRequest,
      patient: maria,
      coverage: medicaid,
      asOf,
    });
    const ranked = rankServices(need, [base, spanish]);
    expect(ranked.map((c) => c.serviceId)).toEqual(['b-pantry-es', 'a-pantry-en']);
    expect(ranked[0].explanation.reasons).toEqual(
      expect.arrayContaining([
        'Staff speak Spanish (es), the preferred language',
        'Covers ZIP 60623',
        'Eligible: payer is medicaid',
      ]),
    );
    // Without the Coverage, payer eligibility is unverified, not failed.
    const { need: noPayer } = deriveReferralNeed({
      serviceRequest: foodRequest,
      patient: maria,
      asOf,
    });
    expect(rankServices(noPayer, [spanish])[0].explanation.factors.eligibility.outcome).toBe(
      'unknown',
    );
  });
});
