import type { Group, Questionnaire } from '@medplum/fhirtypes';
import { FhirError } from './operation-outcome';
import { extractSearchIndex } from './search-index';
import { searchIndexMatches } from './search-match';
import { parseSearchRequest } from './search-request';

const parse = (type: string, query: string) => parseSearchRequest(type, new URLSearchParams(query));

const group: Group = {
  resourceType: 'Group',
  type: 'person',
  actual: false,
  characteristic: [
    {
      code: { coding: [{ system: 'http://x', code: 'gender' }] },
      valueCodeableConcept: { coding: [{ system: 'http://g', code: 'female' }] },
      exclude: false,
    },
    {
      code: { coding: [{ system: 'http://x', code: 'age-band' }] },
      valueCodeableConcept: { coding: [{ code: 'adult' }] },
      exclude: false,
    },
  ],
};

describe('composite search parameters', () => {
  it('parses code$value tuples by the types of the components', () => {
    expect(
      parse('Group', 'characteristic-value=http://x|gender$female,age-band$adult').filters,
    ).toEqual([
      {
        param: 'characteristic-value',
        kind: 'composite',
        values: [
          [
            {
              param: 'characteristic',
              kind: 'token',
              not: false,
              values: [{ system: 'http://x', code: 'gender' }],
            },
            { param: 'value', kind: 'token', not: false, values: [{ code: 'female' }] },
          ],
          [
            { param: 'characteristic', kind: 'token', not: false, values: [{ code: 'age-band' }] },
            { param: 'value', kind: 'token', not: false, values: [{ code: 'adult' }] },
          ],
        ],
      },
    ]);
    const [quantity] = parse(
      'Observation',
      'code-value-quantity=http://loinc.org|8480-6$ge120',
    ).filters;
    expect(quantity).toMatchObject({
      kind: 'composite',
      values: [[{ kind: 'token' }, { kind: 'quantity', values: [{ prefix: 'ge', value: 120 }] }]],
    });
  });

  it('refuses a tuple of the wrong length or with an invalid part', () => {
    for (const query of [
      'characteristic-value=gender',
      'characteristic-value=gender$female$x',
      'characteristic-value=$female',
    ]) {
      let error: unknown;
      try {
        parse('Group', query);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(FhirError);
      expect((error as FhirError).status).toBe(400);
    }
  });

  it('indexes each element as one group of component rows', () => {
    const rows = extractSearchIndex(group).filter((r) => r.param === 'characteristic-value');
    expect(rows).toEqual(
      expect.arrayContaining([
        {
          param: 'characteristic-value',
          type: 'token',
          system: 'http://x',
          code: 'gender',
          composite_group: 0,
          component: 0,
        },
        {
          param: 'characteristic-value',
          type: 'token',
          system: 'http://g',
          code: 'female',
          composite_group: 0,
          component: 1,
        },
        {
          param: 'characteristic-value',
          type: 'token',
          code: 'adult',
          composite_group: 1,
          component: 1,
        },
      ]),
    );
  });

  it('matches a tuple only on one element', () => {
    const rows = extractSearchIndex(group);
    const matches = (query: string) => searchIndexMatches(parse('Group', query).filters, rows);
    expect(matches('characteristic-value=gender$female')).toBe(true);
    expect(matches('characteristic-value=http://x|age-band$adult')).toBe(true);
    // Both parts exist, but on different characteristics.
    expect(matches('characteristic-value=gender$adult')).toBe(false);
    expect(matches('characteristic-value=gender$adult,age-band$adult')).toBe(true);
  });

  it('Questionnaire context-type-value: useContext code and CodeableConcept value', () => {
    const questionnaire: Questionnaire = {
      resourceType: 'Questionnaire',
      status: 'active',
      useContext: [
        {
          code: {
            system: 'http://terminology.hl7.org/CodeSystem/usage-context-type',
            code: 'focus',
          },
          valueCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '1' }] },
        },
        {
          code: {
            system: 'http://terminology.hl7.org/CodeSystem/usage-context-type',
            code: 'user',
          },
          valueCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '2' }] },
        },
      ],
    };
    const rows = extractSearchIndex(questionnaire);
    const matches = (query: string) =>
      searchIndexMatches(parse('Questionnaire', query).filters, rows);
    expect(matches('context-type-value=focus$http://snomed.info/sct|1')).toBe(true);
    expect(matches('context-type-value=focus$2')).toBe(false);
  });
});

describe('composites on the resource itself', () => {
  it('Observation code-value-quantity matches code and value of the Observation', () => {
    const rows = extractSearchIndex({
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] },
      valueQuantity: { value: 130, system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
    });
    const matches = (query: string) =>
      searchIndexMatches(parse('Observation', query).filters, rows);
    expect(matches('code-value-quantity=http://loinc.org|8480-6$ge120')).toBe(true);
    expect(matches('code-value-quantity=http://loinc.org|8480-6$lt120')).toBe(false);
  });
});
