import {
  ageBandOf,
  coverageFactsOf,
  PAYER_EXTENSION,
  patientFactsOf,
  patientKeyOf,
  serviceRequestFactsOf,
  taskFactsOf,
  US_CORE_ETHNICITY,
  US_CORE_RACE,
} from './fhir-facts';
import { reasonCodeOf } from './reason-codes';

const OMB = 'urn:oid:2.16.840.1.113883.6.238';

describe('fhir facts', () => {
  const patient = {
    resourceType: 'Patient',
    identifier: [{ system: 'mrn', value: 'MRN-1' }],
    name: [{ family: 'Garcia', given: ['Maria'] }],
    birthDate: '1980-06-15',
    gender: 'female',
    extension: [
      {
        url: US_CORE_RACE,
        extension: [
          { url: 'ombCategory', valueCoding: { system: OMB, code: '2054-5' } },
          { url: 'text', valueString: 'Black or African American' },
        ],
      },
      {
        url: US_CORE_ETHNICITY,
        extension: [{ url: 'ombCategory', valueCoding: { system: OMB, code: '2186-5' } }],
      },
      { url: PAYER_EXTENSION, valueCoding: { code: '2' } },
    ],
    address: [
      { use: 'work', postalCode: '99999' },
      { use: 'home', postalCode: '60623-1234', line: ['1 Main St'] },
    ],
    communication: [
      { language: { coding: [{ code: 'en' }] } },
      { language: { coding: [{ code: 'es-MX' }] }, preferred: true },
    ],
  };

  it('keeps bands and codes of a Patient, and nothing that identifies it', () => {
    const facts = patientFactsOf('pat-1', patient, new Date('2026-06-14T00:00:00Z'));
    expect(facts).toEqual({
      patientKey: patientKeyOf('pat-1'),
      race: '2054-5',
      ethnicity: '2186-5',
      language: 'es',
      zip: '60623',
      ageBand: '35-49', // 45 the day before the 46th birthday
      sex: 'female',
      payerExtension: '2',
    });
    const stored = JSON.stringify(facts);
    for (const phi of ['pat-1', 'Garcia', 'Maria', '1980', 'MRN-1', 'Main'])
      expect(stored).not.toContain(phi);
  });

  it('pseudonymises a patient id and its reference alike', () => {
    expect(patientKeyOf('Patient/pat-1')).toBe(patientKeyOf('pat-1'));
    expect(patientKeyOf('pat-2')).not.toBe(patientKeyOf('pat-1'));
    expect(patientKeyOf(undefined)).toBeNull();
  });

  it('bands ages at their boundaries', () => {
    const at = new Date('2026-01-01T00:00:00Z');
    expect(ageBandOf('2008-01-02', at)).toBe('0-17'); // 17
    expect(ageBandOf('2008-01-01', at)).toBe('18-34'); // 18 today
    expect(ageBandOf('1961-01-01', at)).toBe('65+');
    expect(ageBandOf('1961-01-02', at)).toBe('50-64');
    expect(ageBandOf('not a date', at)).toBeNull();
  });

  it('reads more than one OMB race as multiple', () => {
    const two = {
      extension: [
        {
          url: US_CORE_RACE,
          extension: [
            { url: 'ombCategory', valueCoding: { code: '2106-3' } },
            { url: 'ombCategory', valueCoding: { code: '2028-9' } },
          ],
        },
      ],
    };
    expect(patientFactsOf('p', two, new Date()).race).toBe('multiple');
  });

  it('reads the SDOH category and code of a ServiceRequest, and the links of a Task', () => {
    expect(
      serviceRequestFactsOf('sr-1', {
        category: [
          {
            coding: [
              {
                system:
                  'http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes',
                code: 'food-insecurity',
              },
            ],
          },
        ],
        code: { coding: [{ system: 'http://snomed.info/sct', code: '467771000124109' }] },
      }),
    ).toEqual({ id: 'sr-1', category: 'food-insecurity', code: '467771000124109' });
    expect(
      taskFactsOf('task-1', {
        focus: { reference: 'ServiceRequest/sr-1' },
        for: { reference: 'Patient/pat-1' },
      }),
    ).toEqual({ taskId: 'task-1', serviceRequestId: 'sr-1', patientKey: patientKeyOf('pat-1') });
  });

  it('reads a Coverage payer type, else its payor', () => {
    expect(
      coverageFactsOf('cov-1', {
        status: 'active',
        beneficiary: { reference: 'Patient/pat-1' },
        type: { coding: [{ system: 'urn:oid:2.16.840.1.113883.3.221.5', code: '2' }] },
      }),
    ).toEqual({ coverageId: 'cov-1', patientKey: patientKeyOf('pat-1'), payer: '2', active: true });
    expect(
      coverageFactsOf('cov-2', {
        status: 'cancelled',
        beneficiary: { reference: 'Patient/pat-1' },
        payor: [{ reference: 'Organization/acme-health' }],
      }),
    ).toMatchObject({ payer: 'payor:acme-health', active: false });
  });
});

describe('reason codes', () => {
  it.each([
    ['No capacity: our waitlist is full this month', 'no-capacity'],
    ['Outside our service area', 'out-of-area'],
    ['Client does not meet eligibility requirements', 'not-eligible'],
    ['Unable to contact the client after 3 attempts', 'unable-to-contact'],
    ['Patient declined the service', 'declined-by-patient'],
    ['Not accepted before the acceptance deadline', 'no-response'],
    ['No matching CBO service is available', 'no-match'],
    ['Something else', 'other'],
  ])('%s -> %s', (text, code) => expect(reasonCodeOf(text)).toBe(code));
  it('no reason, no code', () => expect(reasonCodeOf(undefined)).toBeNull());
});
