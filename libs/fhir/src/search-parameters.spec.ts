import { SUPPORTED_RESOURCE_TYPES } from './resource-validation';
import {
  searchParameterFor,
  searchParametersFor,
  supportedSearchParameters,
} from './search-parameters';

/** What the IG's CapabilityStatement and the FHIR API issue ask for (SHALL and SHOULD). */
const REQUIRED: Record<string, string[]> = {
  Task: [
    '_id',
    '_lastUpdated',
    'code',
    'patient',
    'requester',
    'status',
    'focus',
    'owner',
    'output',
    'part-of',
    'identifier',
    'business-status',
  ],
  ServiceRequest: [
    '_id',
    '_lastUpdated',
    'category',
    'intent',
    'patient',
    'status',
    'code',
    'occurrence',
    'performer',
    'requester',
    'supporting-info',
  ],
  Procedure: ['_id', 'based-on', 'category', 'patient', 'performer', 'status'],
  Consent: ['_id', 'source-reference'],
  HealthcareService: ['_id', 'location'],
};

describe('search parameters from the R4 definitions', () => {
  it.each(Object.entries(REQUIRED))('%s has every parameter the IG requires', (type, codes) => {
    const supported = supportedSearchParameters(type).map((p) => p.code);
    expect(supported).toEqual(expect.arrayContaining(codes));
  });

  it.each([...SUPPORTED_RESOURCE_TYPES, 'AuditEvent', 'Subscription'])(
    '%s has _id, _lastUpdated and patient-independent parameters with parsed expressions',
    (type) => {
      const params = supportedSearchParameters(type);
      expect(params.length).toBeGreaterThan(5);
      expect(searchParameterFor(type, '_id')).toMatchObject({
        type: 'token',
        expression: `${type}.id`,
      });
      expect(searchParameterFor(type, '_lastUpdated')).toMatchObject({
        type: 'date',
        expression: `${type}.meta.lastUpdated`,
      });
      for (const p of params) {
        expect(p.parts.length).toBeGreaterThan(0);
        // every part is narrowed to this resource type (a composite may select the resource)
        for (const part of p.parts) {
          expect(part.expression).toMatch(new RegExp(`^\\(*${type}(\\.|$)`));
        }
      }
    },
  );

  it('narrows shared definitions to the resource type and keeps the type filter of resolve()', () => {
    const patient = searchParameterFor('Task', 'patient');
    expect(patient).toMatchObject({
      type: 'reference',
      expression: 'Task.for',
      targets: ['Patient'],
      url: 'http://hl7.org/fhir/SearchParameter/Task-patient',
    });
    expect(patient?.parts[0].resolveType).toBe('Patient');
    const code = searchParameterFor('Condition', 'code');
    expect(code?.expression).toBe('Condition.code');
    expect(code?.url).toBe('http://hl7.org/fhir/SearchParameter/clinical-code');
  });

  it('adds the IG parameters', () => {
    expect(searchParameterFor('Task', 'output')).toMatchObject({
      type: 'reference',
      url: 'http://hl7.org/fhir/us/sdoh-clinicalcare/SearchParameter/Task-output-reference',
      supported: true,
    });
    expect(searchParameterFor('ServiceRequest', 'supporting-info')?.expression).toBe(
      'ServiceRequest.supportingInfo',
    );
  });

  it('supports composites with their components, and knows but does not support special and full-text parameters', () => {
    expect(searchParameterFor('Group', 'characteristic-value')).toMatchObject({
      type: 'composite',
      supported: true,
      components: [
        { code: 'characteristic', type: 'token', expression: 'code' },
        { code: 'value', type: 'token', expression: 'value' },
      ],
    });
    expect(searchParameterFor('Questionnaire', 'context-type-value')?.components).toMatchObject([
      { code: 'context-type', type: 'token' },
      { code: 'context', type: 'token', expression: 'value.as(CodeableConcept)' },
    ]);
    expect(searchParameterFor('Location', 'near')).toMatchObject({
      type: 'special',
      supported: false,
    });
    expect(searchParameterFor('Task', '_text')?.supported).toBe(false);
    expect(supportedSearchParameters('Observation').map((p) => p.code)).toContain(
      'code-value-quantity',
    );
    expect(searchParameterFor('ServiceRequest', 'pertains-to-goal')).toMatchObject({
      type: 'reference',
      supported: true,
      targets: ['Goal'],
    });
  });

  it('is empty for an unknown type and caches per type', () => {
    expect(searchParametersFor('Bogus').size).toBe(0);
    expect(searchParametersFor('Task')).toBe(searchParametersFor('Task'));
  });
});
