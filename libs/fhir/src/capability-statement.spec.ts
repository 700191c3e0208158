import type { CapabilityStatementRestResource } from '@medplum/fhirtypes';
import {
  buildCapabilityStatement,
  CHAINABLE,
  ITERATE,
  SORTABLE,
  defaultResourceCapabilities,
  revIncludesFor,
  type CapabilityOptions,
} from './capability-statement';
import { SUPPORTED_RESOURCE_TYPES, validateFhirResource } from './resource-validation';

const options = (overrides: Partial<CapabilityOptions> = {}): CapabilityOptions => ({
  baseUrl: 'http://localhost:8080/fhir',
  resources: defaultResourceCapabilities(),
  systemInteractions: ['transaction', 'batch'],
  smartBackendServices: { tokenUrl: 'http://localhost:8080/auth/token' },
  software: { name: 'CareRelay', version: '0.1.0' },
  date: '2026-01-01T00:00:00Z',
  ...overrides,
});

function resource(
  type: string,
  overrides: Partial<CapabilityOptions> = {},
): CapabilityStatementRestResource {
  const cs = buildCapabilityStatement(options(overrides));
  const found = cs.rest?.[0].resource?.find((r) => r.type === type);
  if (!found) {
    throw new Error(`no ${type}`);
  }
  return found;
}

describe('buildCapabilityStatement', () => {
  it('is a valid R4 CapabilityStatement', () => {
    const cs = buildCapabilityStatement(options());
    expect(validateFhirResource(cs).filter((i) => i.severity === 'error')).toEqual([]);
    expect(cs).toMatchObject({
      resourceType: 'CapabilityStatement',
      status: 'active',
      kind: 'instance',
      fhirVersion: '4.0.1',
      format: ['application/fhir+json', 'json', 'application/fhir+xml', 'xml'],
      implementation: { url: 'http://localhost:8080/fhir' },
      instantiates: [
        'http://hl7.org/fhir/us/sdoh-clinicalcare/CapabilityStatement/SDOHCC-CoordinationPlatform',
      ],
      software: { name: 'CareRelay', version: '0.1.0' },
      date: '2026-01-01T00:00:00Z',
    });
    expect(cs.rest?.[0].interaction).toEqual([{ code: 'transaction' }, { code: 'batch' }]);
  });

  it('lists every IG resource type with its interactions and the supported search parameters', () => {
    const cs = buildCapabilityStatement(options());
    expect(cs.rest?.[0].resource?.map((r) => r.type)).toEqual([...SUPPORTED_RESOURCE_TYPES]);
    const task = resource('Task');
    expect(task.interaction?.map((i) => i.code)).toEqual([
      'read',
      'vread',
      'create',
      'update',
      'search-type',
      'history-instance',
    ]);
    expect(task).toMatchObject({
      versioning: 'versioned-update',
      conditionalCreate: true,
      updateCreate: false,
    });
    const names = task.searchParam?.map((p) => p.name) ?? [];
    expect(names).toEqual(
      expect.arrayContaining([
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
      ]),
    );
    expect(names).not.toContain('_text');
    expect(task.searchParam?.find((p) => p.name === 'patient')).toEqual({
      name: 'patient',
      definition: 'http://hl7.org/fhir/SearchParameter/Task-patient',
      type: 'reference',
      documentation: 'Task.for',
    });
    expect(task.searchInclude).toEqual(['Task:focus', 'Task:output']);
    expect(resource('ServiceRequest').searchInclude).toEqual([
      'ServiceRequest:supporting-info',
      'ServiceRequest:patient',
      'ServiceRequest:requester',
      'ServiceRequest:performer',
      'ServiceRequest:pertains-to-goal',
    ]);
    // The IG's SHALL/SHOULD includes of the Coordination Platform.
    expect(resource('Group').searchInclude).toEqual(['Group:member']);
    expect(resource('Consent').searchInclude).toEqual([
      'Consent:source-reference:DocumentReference',
    ]);
    expect(resource('PractitionerRole').searchInclude).toEqual([
      'PractitionerRole:organization',
      'PractitionerRole:practitioner',
    ]);
    expect(resource('HealthcareService').searchInclude).toEqual(['HealthcareService:location']);
  });

  it('declares SMART Backend Services with the token endpoint', () => {
    const security = buildCapabilityStatement(options()).rest?.[0].security;
    expect(security?.service?.[0].coding?.[0]).toEqual({
      system: 'http://terminology.hl7.org/CodeSystem/restful-security-service',
      code: 'SMART-on-FHIR',
    });
    expect(security?.extension?.[0].extension).toEqual([
      { url: 'token', valueUri: 'http://localhost:8080/auth/token' },
    ]);
    expect(
      buildCapabilityStatement(options({ smartBackendServices: undefined })).rest?.[0].security,
    ).toBeUndefined();
  });

  it('documents chains, sort keys and iterated includes where the search offers them', () => {
    const task = resource('Task', {
      resources: [
        {
          type: 'Task',
          interactions: ['read', 'search-type'],
          searchParams: ['patient', 'focus', 'authored-on', 'status'],
          searchInclude: ['Task:focus'],
          searchExtras: true,
        },
      ],
    });
    const doc = (name: string) => task.searchParam?.find((p) => p.name === name)?.documentation;
    expect(doc('patient')).toContain(`${CHAINABLE}: patient[:Type].<parameter of the target>`);
    expect(doc('patient')).toContain('Type one of Patient ');
    expect(doc('focus')).toContain('ServiceRequest');
    expect(doc('focus')).not.toContain('MedicationRequest');
    expect(doc('focus')).not.toContain(SORTABLE);
    expect(doc('authored-on')).toContain(SORTABLE);
    expect(doc('status')).toContain(SORTABLE);
    expect(doc('status')).not.toContain(CHAINABLE);
    expect(task.documentation).toContain(ITERATE);
    const plain = resource('Task');
    expect(JSON.stringify(plain)).not.toContain(CHAINABLE);
    expect(plain.documentation ?? '').not.toContain(ITERATE);
  });

  it('lists only the chosen parameters and no search when search-type is not offered', () => {
    const only = resource('Task', {
      resources: [
        {
          type: 'Task',
          interactions: ['read', 'search-type'],
          searchParams: ['status', '_id'],
          searchRevInclude: ['Task:part-of'],
        },
      ],
    });
    expect(only.searchParam?.map((p) => p.name)).toEqual(['status', '_id']);
    expect(only.searchRevInclude).toEqual(['Task:part-of']);
    const readOnly = resource('Patient', {
      resources: [{ type: 'Patient', interactions: ['read'] }],
    });
    expect(readOnly.searchParam).toBeUndefined();
    expect(readOnly.readHistory).toBe(false);
  });

  it.each<[string, Partial<CapabilityOptions>, string]>([
    [
      'an unknown type',
      { resources: [{ type: 'Bogus', interactions: ['read'] }] },
      'unknown resource type',
    ],
    [
      'a type listed twice',
      {
        resources: [
          { type: 'Task', interactions: ['read'] },
          { type: 'Task', interactions: ['read'] },
        ],
      },
      'twice',
    ],
    [
      'a non-reference include',
      {
        resources: [
          { type: 'Task', interactions: ['search-type'], searchInclude: ['Task:status'] },
        ],
      },
      'not a reference',
    ],
    [
      'an include of another type',
      {
        resources: [
          {
            type: 'Task',
            interactions: ['search-type'],
            searchInclude: ['ServiceRequest:patient'],
          },
        ],
      },
      'listed under Task',
    ],
    [
      'an impossible target',
      {
        resources: [
          { type: 'Task', interactions: ['search-type'], searchInclude: ['Task:part-of:Patient'] },
        ],
      },
      'cannot reference',
    ],
    [
      'an impossible revinclude',
      {
        resources: [
          { type: 'Patient', interactions: ['search-type'], searchRevInclude: ['Task:part-of'] },
        ],
      },
      'cannot point at',
    ],
    [
      'an unknown search parameter',
      { resources: [{ type: 'Task', interactions: ['search-type'], searchParams: ['colour'] }] },
      'colour',
    ],
    [
      'includes without search',
      { resources: [{ type: 'Task', interactions: ['read'], searchInclude: ['Task:focus'] }] },
      'without search-type',
    ],
  ])('refuses to claim %s', (_what, overrides, message) => {
    expect(() => buildCapabilityStatement(options(overrides))).toThrow(message);
  });

  it('derives the _revinclude values from the reference parameters that may point at a type', () => {
    const onServiceRequest = revIncludesFor('ServiceRequest', SUPPORTED_RESOURCE_TYPES);
    expect(onServiceRequest).toEqual(
      expect.arrayContaining(['Task:focus', 'Task:based-on', 'Procedure:based-on']),
    );
    // Task.owner cannot reference a ServiceRequest; a type not stored is no source.
    expect(onServiceRequest).not.toContain('Task:owner');
    expect(revIncludesFor('Patient', ['Task'])).toEqual(
      expect.arrayContaining(['Task:owner', 'Task:patient']),
    );
    expect(revIncludesFor('Patient', ['Task']).every((v) => v.startsWith('Task:'))).toBe(true);
    // A canonical (QuestionnaireResponse.questionnaire) is never a Type/id reference to follow.
    expect(revIncludesFor('Questionnaire', SUPPORTED_RESOURCE_TYPES)).not.toContain(
      'QuestionnaireResponse:questionnaire',
    );
    // Each one is a claim the builder accepts.
    expect(() =>
      buildCapabilityStatement(
        options({
          resources: [
            {
              type: 'Patient',
              interactions: ['search-type'],
              searchRevInclude: revIncludesFor('Patient', SUPPORTED_RESOURCE_TYPES),
            },
          ],
        }),
      ),
    ).not.toThrow();
  });

  it('lists supported profiles and operations of a type', () => {
    const subscription = resource('Subscription', {
      resources: [
        {
          type: 'Subscription',
          interactions: ['create', 'read', 'delete'],
          supportedProfile: ['http://example.org/StructureDefinition/p'],
          operations: [{ name: 'status', definition: 'http://example.org/OperationDefinition/s' }],
        },
      ],
    });
    expect(subscription).toMatchObject({
      supportedProfile: ['http://example.org/StructureDefinition/p'],
      operation: [{ name: 'status', definition: 'http://example.org/OperationDefinition/s' }],
    });
    expect(subscription.searchParam).toBeUndefined();
  });
});
