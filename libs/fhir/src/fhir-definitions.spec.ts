import {
  allSearchParameterDefinitions,
  isR4ResourceType,
  loadFhirDefinitions,
  r4ResourceTypes,
  valueSetCodesFor,
} from './fhir-definitions';

describe('FHIR R4 definitions', () => {
  it('loads once per process: the second call returns the same object without reloading', () => {
    const first = loadFhirDefinitions();
    const started = Date.now();
    const second = loadFhirDefinitions();
    expect(second).toBe(first);
    expect(Date.now() - started).toBeLessThan(50);
  });

  it('knows the concrete R4 resource types and nothing else', () => {
    expect(isR4ResourceType('Task')).toBe(true);
    expect(isR4ResourceType('HealthcareService')).toBe(true);
    expect(isR4ResourceType('Resource')).toBe(false);
    expect(isR4ResourceType('DomainResource')).toBe(false);
    expect(isR4ResourceType('Bogus')).toBe(false);
    expect(isR4ResourceType('constructor')).toBe(false);
    expect(isR4ResourceType(undefined)).toBe(false);
    // medplum-only resource types are not R4
    expect(isR4ResourceType('Project')).toBe(false);
    expect(r4ResourceTypes()).toHaveLength(146);
  });

  it('includes the IG search parameters after the R4 ones', () => {
    const params = allSearchParameterDefinitions();
    expect(params.length).toBeGreaterThan(1300);
    const output = params.find((p) => p.code === 'output' && p.base.includes('Task'));
    expect(output?.url).toBe(
      'http://hl7.org/fhir/us/sdoh-clinicalcare/SearchParameter/Task-output-reference',
    );
    expect(
      params.some((p) => p.code === 'supporting-info' && p.base.includes('ServiceRequest')),
    ).toBe(true);
  });

  it('expands enumerable value sets and declines the others', () => {
    expect(
      [...(valueSetCodesFor('http://hl7.org/fhir/ValueSet/task-status|4.0.1') ?? [])].sort(),
    ).toEqual([
      'accepted',
      'cancelled',
      'completed',
      'draft',
      'entered-in-error',
      'failed',
      'in-progress',
      'on-hold',
      'ready',
      'received',
      'rejected',
      'requested',
    ]);
    // task-intent = task-intent system + a few request-intent codes
    const intents = valueSetCodesFor('http://hl7.org/fhir/ValueSet/task-intent');
    expect(intents?.has('order')).toBe(true);
    expect(intents?.has('filler-order')).toBe(true);
    expect(intents?.has('proposal')).toBe(true);
    // mime types (BCP 13) and currencies are external: not enumerable
    expect(valueSetCodesFor('http://hl7.org/fhir/ValueSet/mimetypes')).toBeUndefined();
    expect(valueSetCodesFor('http://hl7.org/fhir/ValueSet/currencies')).toBeUndefined();
    expect(valueSetCodesFor('http://example.org/nope')).toBeUndefined();
  });
});
