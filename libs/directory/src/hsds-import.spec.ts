import { SDOHCC_CODE_SYSTEM } from './directory.model';
import { directoryToHsds } from './hsds-export';
import { formatIssue, HsdsImportError, importHsds, parseHsds } from './hsds-import';
import { CARERELAY_ELIGIBILITY_TAXONOMY, CARERELAY_NETWORK_TAXONOMY } from './hsds.types';

const SNOMED = 'http://snomed.info/sct';

function term(taxonomy: string, code: string, name = code) {
  return { id: `t-${code}`, code, name, description: name, taxonomy };
}

/** A small, valid HSDS 3.0 document in the nested ("compiled") form. */
function sampleDocument() {
  return {
    organizations: [
      {
        id: 'org-1',
        name: 'Pilsen Neighbors Food Pantry',
        description: 'Community food pantry',
        website: 'https://pilsen-pantry.example',
        phones: [{ id: 'ph-1', number: '312-555-0100' }],
        organization_identifiers: [
          {
            id: 'oi-1',
            identifier_scheme: 'US-EIN',
            identifier_type: 'EIN',
            identifier: '36-1234567',
          },
        ],
        attributes: [
          {
            id: 'a-net',
            link_type: 'network',
            taxonomy_term: term(CARERELAY_NETWORK_TAXONOMY, 'chicago-southwest'),
          },
        ],
        locations: [
          {
            id: 'loc-1',
            location_type: 'physical',
            name: 'Main pantry',
            latitude: 41.8525,
            longitude: -87.6631,
            addresses: [
              {
                id: 'ad-1',
                address_1: '1800 S Blue Island Ave',
                city: 'Chicago',
                state_province: 'IL',
                postal_code: '60608',
                country: 'US',
                address_type: 'physical',
              },
            ],
          },
        ],
        services: [
          {
            id: 'svc-1',
            name: 'Food pantry application help',
            status: 'active',
            minimum_age: 18,
            eligibility_description: 'Adults living in Pilsen or Little Village',
            languages: [
              { id: 'l-1', code: 'eng', name: 'English' },
              { id: 'l-2', code: 'spa', name: 'Spanish' },
              { id: 'l-3', name: 'Polish' },
            ],
            service_at_locations: [
              {
                id: 'sal-1',
                location_id: 'loc-1',
                service_areas: [
                  {
                    id: 'sa-2',
                    extent_type: 'geojson',
                    extent: JSON.stringify({
                      type: 'Feature',
                      geometry: null,
                      properties: { radius_km: 3 },
                    }),
                  },
                ],
              },
            ],
            service_areas: [
              {
                id: 'sa-1',
                name: 'Pilsen and Little Village',
                extent_type: 'text',
                extent: '60608, 60623',
              },
            ],
            schedules: [
              {
                id: 'sch-1',
                freq: 'WEEKLY',
                byday: 'TU,TH',
                opens_at: '10:00:00',
                closes_at: '14:00',
                description: 'Walk-in hours',
              },
            ],
            capacities: [
              {
                id: 'cap-1',
                unit: { id: 'u-1', name: 'households per week' },
                available: 12,
                maximum: 80,
                updated: '2025-01-15T10:00:00Z',
              },
            ],
            attributes: [
              {
                id: 'a-1',
                taxonomy_term: term(SDOHCC_CODE_SYSTEM, 'food-insecurity', 'Food Insecurity'),
              },
              {
                id: 'a-2',
                taxonomy_term: term(
                  SNOMED,
                  '467771000124109',
                  'Assistance with application for food pantry program',
                ),
              },
              {
                id: 'a-3',
                taxonomy_term: term(CARERELAY_ELIGIBILITY_TAXONOMY, 'payer'),
                value: '{"op":"in","values":["medicaid","uninsured"]}',
                label: 'Medicaid members or uninsured',
              },
            ],
          },
        ],
      },
    ],
  };
}

describe('importHsds', () => {
  it('maps organizations, locations and services to the domain model', () => {
    const { directory, warnings } = importHsds(sampleDocument());
    expect(warnings).toEqual([]);
    expect(directory.organizations).toEqual([
      {
        id: 'org-1',
        name: 'Pilsen Neighbors Food Pantry',
        description: 'Community food pantry',
        networks: ['chicago-southwest'],
        identifiers: [
          { system: 'urn:oid:2.16.840.1.113883.4.4', value: '36-1234567', type: 'EIN' },
        ],
        website: 'https://pilsen-pantry.example',
        phone: '312-555-0100',
      },
    ]);
    expect(directory.locations).toEqual([
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
    ]);
    expect(directory.services).toEqual([
      {
        id: 'svc-1',
        organizationId: 'org-1',
        name: 'Food pantry application help',
        status: 'active',
        categories: ['food-insecurity'],
        codes: [
          {
            system: SNOMED,
            code: '467771000124109',
            display: 'Assistance with application for food pantry program',
          },
        ],
        languages: ['en', 'es', 'pl'],
        serviceAreas: [
          { kind: 'postal-codes', postalCodes: ['60608', '60623'] },
          {
            kind: 'radius',
            center: { lat: 41.8525, lon: -87.6631 },
            radiusKm: 3,
            locationId: 'loc-1',
          },
        ],
        eligibility: {
          minAge: 18,
          rules: [
            {
              attribute: 'payer',
              op: 'in',
              values: ['medicaid', 'uninsured'],
              description: 'Medicaid members or uninsured',
            },
          ],
          description: 'Adults living in Pilsen or Little Village',
        },
        schedule: [
          {
            days: ['tue', 'thu'],
            opensAt: '10:00',
            closesAt: '14:00',
            description: 'Walk-in hours',
          },
        ],
        capacity: {
          status: 'available',
          available: 12,
          maximum: 80,
          unit: 'households per week',
          updatedAt: '2025-01-15T10:00:00Z',
        },
        locationIds: ['loc-1'],
      },
    ]);
  });

  it('derives capacity from counts, and lets an SDOHCC capacity status attribute override it', () => {
    const doc = sampleDocument();
    const svc = doc.organizations[0].services[0];
    svc.capacities[0].available = 0;
    expect(importHsds(doc).directory.services[0].capacity.status).toBe('no-capacity');

    svc.attributes.push({
      id: 'a-cap',
      taxonomy_term: term(SDOHCC_CODE_SYSTEM, 'no-capacity-has-waitlist'),
    } as (typeof svc.attributes)[number]);
    expect(importHsds(doc).directory.services[0].capacity.status).toBe('waitlist');
  });

  it('maps HSDS statuses other than active to inactive', () => {
    const doc = sampleDocument();
    doc.organizations[0].services[0].status = 'temporarily closed';
    expect(importHsds(doc).directory.services[0].status).toBe('inactive');
  });

  it('accepts a bare array of organizations and an API page', () => {
    const doc = sampleDocument();
    expect(importHsds(doc.organizations).directory.services).toHaveLength(1);
    expect(importHsds({ contents: doc.organizations }).directory.services).toHaveLength(1);
  });

  it('accepts top-level services and locations linked by id', () => {
    const doc = sampleDocument();
    const org = doc.organizations[0];
    const flat = {
      organizations: [{ ...org, services: undefined, locations: undefined }],
      services: org.services.map((s) => ({ ...s, organization_id: 'org-1' })),
      locations: org.locations.map((l) => ({ ...l, organization_id: 'org-1' })),
    };
    expect(importHsds(flat).directory).toEqual(importHsds(doc).directory);
  });

  describe('malformed input', () => {
    function errorsOf(input: unknown) {
      const result = parseHsds(input);
      if (result.ok) throw new Error('expected errors');
      return result.errors;
    }

    it('rejects a document that is not HSDS', () => {
      expect(errorsOf('nope')[0].path).toBe('$');
      expect(errorsOf({ foo: [] })).toEqual([
        expect.objectContaining({
          path: 'organizations',
          message: expect.stringContaining('required'),
        }),
      ]);
    });

    it('names the record and the field of each error, and collects them all', () => {
      const doc = sampleDocument() as unknown as {
        organizations: Array<
          Record<string, unknown> & { services: Array<Record<string, unknown>> }
        >;
      };
      const org = doc.organizations[0];
      delete org.name;
      const svc = org.services[0];
      svc.status = 'open';
      (svc.languages as Array<Record<string, unknown>>)[1].code = 'español!';
      svc.minimum_age = 'eighteen';
      ((org.locations as Array<Record<string, unknown>>)[0] as Record<string, unknown>).latitude =
        141.9;

      const errors = errorsOf(doc);
      expect(errors.map(formatIssue)).toEqual(
        expect.arrayContaining([
          'organizations[0].name (organization "org-1"): is required',
          'organizations[0].services[0].status (service "svc-1"): must be active, inactive, defunct or temporarily closed, got "open"',
          'organizations[0].services[0].languages[1].code (service "svc-1"): "español!" is not an ISO 639 / BCP-47 language code',
          'organizations[0].services[0].minimum_age (service "svc-1"): must be a number, got "eighteen"',
          'organizations[0].locations[0].latitude (location "loc-1"): must be between -90 and 90, got 141.9',
        ]),
      );
    });

    it('explains a malformed eligibility rule', () => {
      const doc = sampleDocument();
      doc.organizations[0].services[0].attributes[2].value = '{"op":"between","value":3}';
      expect(errorsOf(doc).map(formatIssue)).toEqual([
        'organizations[0].services[0].attributes[2].value (service "svc-1"): eligibility rule "op" must be one of eq, ne, in, not-in, gt, gte, lt, lte, got "between"',
      ]);
      doc.organizations[0].services[0].attributes[2].value = 'payer=medicaid';
      expect(errorsOf(doc)[0].message).toMatch(/must be JSON like/);
    });

    it('rejects references to unknown locations and bad schedules', () => {
      const doc = sampleDocument();
      const svc = doc.organizations[0].services[0];
      svc.service_at_locations[0].location_id = 'loc-404';
      svc.schedules[0].byday = 'MO,XX';
      svc.schedules[0].opens_at = '25:00';
      expect(errorsOf(doc).map(formatIssue)).toEqual(
        expect.arrayContaining([
          'organizations[0].services[0].service_at_locations (service "svc-1"): refers to unknown location "loc-404"',
          'organizations[0].services[0].schedules[0].byday (service "svc-1"): "XX" is not a weekday (MO, TU, WE, TH, FR, SA, SU)',
        ]),
      );
    });

    it('rejects duplicate organization ids and a non-US ZIP', () => {
      const doc = sampleDocument();
      doc.organizations[0].locations[0].addresses[0].postal_code = '6060';
      doc.organizations.push({ ...doc.organizations[0], services: [], locations: [] });
      expect(errorsOf(doc).map(formatIssue)).toEqual([
        'organizations[1].id (organization "org-1"): duplicate organization id',
        'organizations[0].locations[0].addresses[0].postal_code (location "loc-1"): "6060" is not a US ZIP code',
      ]);
    });

    it('throws an HsdsImportError whose message lists the errors', () => {
      const doc = sampleDocument();
      doc.organizations[0].services[0].capacities[0].available = 'many' as unknown as number;
      expect(() => importHsds(doc)).toThrow(HsdsImportError);
      expect(() => importHsds(doc)).toThrow(
        /organizations\[0\]\.services\[0\]\.capacities\[0\]\.available \(service "svc-1"\): must be a number, got "many"/,
      );
    });
  });

  it('warns about, and skips, data the model cannot use', () => {
    const doc = sampleDocument();
    const svc = doc.organizations[0].services[0];
    svc.service_areas.push({
      id: 'sa-x',
      name: 'All of Cook County',
      extent_type: 'text',
      extent: 'Cook County',
    });
    svc.schedules.push({
      id: 'sch-2',
      freq: 'MONTHLY',
      byday: '1SA',
      opens_at: '09:00',
      closes_at: '12:00',
      description: '',
    });
    const result = parseHsds(doc);
    expect(result.ok).toBe(true);
    expect(result.warnings.map(formatIssue)).toEqual([
      'organizations[0].services[0].service_areas[1] (service "svc-1"): free-text service area "Cook County" is not a list of ZIP codes: skipped',
      'organizations[0].services[0].schedules[1].freq (service "svc-1"): only WEEKLY schedules are used, got "MONTHLY": skipped',
    ]);
  });

  it('round-trips through directoryToHsds', () => {
    const { directory } = importHsds(sampleDocument());
    const again = importHsds(JSON.parse(JSON.stringify(directoryToHsds(directory))));
    expect(again.warnings).toEqual([]);
    expect(again.directory).toEqual(directory);
  });
});
