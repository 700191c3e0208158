import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { FhirError } from './operation-outcome';
import {
  MAX_JSON_DEPTH,
  SUPPORTED_RESOURCE_TYPES,
  assertValidFhirResource,
  isSupportedResourceType,
  validateFhirResource,
} from './resource-validation';
import { allFixtureNames, fixture, TASK_ACCEPTED } from '../test-fixtures/load';

const errors = (issues: OperationOutcomeIssue[]): OperationOutcomeIssue[] =>
  issues.filter((i) => i.severity === 'error');

function task(): Record<string, unknown> {
  return fixture(TASK_ACCEPTED);
}

describe('validateFhirResource', () => {
  it.each(allFixtureNames())('accepts the IG example %s', (name) => {
    expect(errors(validateFhirResource(fixture(name)))).toEqual([]);
  });

  it('lists the IG Coordination Platform resource types, Coverage and Endpoint', () => {
    expect(SUPPORTED_RESOURCE_TYPES).toHaveLength(22);
    for (const type of ['Device', 'Questionnaire', 'Coverage', 'Endpoint'])
      expect(isSupportedResourceType(type)).toBe(true);
    expect(isSupportedResourceType('Task')).toBe(true);
    expect(isSupportedResourceType('AuditEvent')).toBe(false);
    expect(isSupportedResourceType('Medication')).toBe(false);
  });

  it.each<[string, (t: Record<string, unknown>) => void, string, string]>([
    ['a status outside the value set', (t) => (t.status = 'bogus'), 'Task.status', 'code-invalid'],
    ['an intent outside the value set', (t) => (t.intent = 'wish'), 'Task.intent', 'code-invalid'],
    ['a missing status', (t) => delete t.status, 'Task.status', 'structure'],
    ['a missing intent', (t) => delete t.intent, 'Task.intent', 'structure'],
    ['an invalid dateTime', (t) => (t.authoredOn = '2020-13-45'), 'Task.authoredOn', 'structure'],
    ['an unknown element', (t) => (t.colour = 'red'), 'Task.colour', 'structure'],
    [
      'a number where a string is due',
      (t) => (t.for = { reference: 5 }),
      'Task.for.reference',
      'structure',
    ],
    ['an array for a single element', (t) => (t.code = [t.code]), 'Task.code', 'structure'],
    [
      'a bad code inside a datatype',
      (t) => (t.identifier = [{ use: 'weird', value: '1' }]),
      'Task.identifier[0].use',
      'code-invalid',
    ],
    [
      'a bad code inside a contained resource',
      (t) => (t.contained = [{ resourceType: 'Patient', id: 'p', gender: 'x' }]),
      'Task.contained[0].gender',
      'code-invalid',
    ],
    ['a null value', (t) => (t.priority = null), 'Task.priority', 'structure'],
    ['an invalid id', (t) => (t.id = 'has space'), 'Task.id', 'structure'],
  ])('rejects %s', (_what, mutate, expression, code) => {
    const resource = task();
    mutate(resource);
    const issues = errors(validateFhirResource(resource));
    expect(issues.length).toBeGreaterThan(0);
    expect(issues).toContainEqual(
      expect.objectContaining({ code, expression: [expression], diagnostics: expect.any(String) }),
    );
  });

  it('puts the validator message into diagnostics', () => {
    const resource = task();
    delete resource.intent;
    const [first] = validateFhirResource(resource);
    expect(first.diagnostics).toBe('Missing required property');
  });

  it.each<[string, unknown, string]>([
    ['null', null, 'structure'],
    ['an array', [task()], 'structure'],
    ['a string', 'Task', 'structure'],
    ['no resourceType', { status: 'draft' }, 'structure'],
    ['an unknown resourceType', { resourceType: 'Bogus' }, 'not-supported'],
    ['a prototype name as resourceType', { resourceType: 'constructor' }, 'not-supported'],
    ['a non-R4 type', { resourceType: 'SubscriptionStatus' }, 'not-supported'],
  ])('rejects %s without throwing', (_what, body, code) => {
    const issues = validateFhirResource(body);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ severity: 'error', code });
  });

  it('rejects a body of another type than expected', () => {
    const issues = validateFhirResource(task(), { expectedResourceType: 'Patient' });
    expect(issues[0]).toMatchObject({ code: 'invalid', expression: ['resourceType'] });
    expect(validateFhirResource(task(), { expectedResourceType: 'Task' })).toEqual([]);
  });

  it('rejects hostile nesting before validating', () => {
    const resource = task();
    let deep: Record<string, unknown> = { url: 'http://x', valueString: 'x' };
    for (let i = 0; i < MAX_JSON_DEPTH + 5; i++) {
      deep = { url: 'http://x', extension: [deep] };
    }
    resource.extension = [deep];
    const issues = validateFhirResource(resource);
    expect(issues[0]).toMatchObject({ code: 'structure' });
    expect(issues[0].diagnostics).toContain('nested');
  });
});

describe('assertValidFhirResource', () => {
  it('returns the resource when valid and throws a 400 FhirError with every error otherwise', () => {
    const ok = task();
    expect(assertValidFhirResource(ok)).toBe(ok);
    const bad = task();
    bad.status = 'bogus';
    bad.colour = 'red';
    let caught: unknown;
    try {
      assertValidFhirResource(bad);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(FhirError);
    const error = caught as FhirError;
    expect(error.status).toBe(400);
    expect(error.issues.flatMap((i) => i.expression)).toEqual(
      expect.arrayContaining(['Task.colour']),
    );
  });
});

describe('plain JSON only', () => {
  it.each([
    ['"__proto__":{"reference":"x"},', 'Task.focus.__proto__'],
    ['"__proto__":null,', 'Task.focus.__proto__'],
    ['"constructor":"x",', 'Task.focus.constructor'],
    ['"toString":"y",', 'Task.focus.toString'],
  ])('rejects a prototype-named key %s (as JSON.parse creates it)', (inject, expression) => {
    const text = JSON.stringify(fixture(TASK_ACCEPTED)).replace('"focus":{', `"focus":{${inject}`);
    const issues = validateFhirResource(JSON.parse(text));
    expect(issues).toEqual([
      expect.objectContaining({ severity: 'error', code: 'structure', expression: [expression] }),
    ]);
  });

  it.each([
    ['an empty string', (t: Record<string, unknown>) => (t.output = ''), 'Task.output'],
    ['an empty object', (t: Record<string, unknown>) => (t.output = {}), 'Task.output'],
    ['an empty array', (t: Record<string, unknown>) => (t.note = []), 'Task.note'],
    [
      'an empty nested string',
      (t: Record<string, unknown>) => (t.for = { reference: '' }),
      'Task.for.reference',
    ],
  ])(
    'rejects %s, which the validator would take for an absent element',
    (_what, mutate, expression) => {
      const resource = task();
      mutate(resource);
      expect(validateFhirResource(resource)).toEqual([
        expect.objectContaining({ code: 'structure', expression: [expression] }),
      ]);
    },
  );

  it('rejects objects that are not plain (null prototype, class instances)', () => {
    const resource = task();
    const focus = Object.create(null) as Record<string, unknown>;
    focus.reference = 'ServiceRequest/1';
    resource.focus = focus;
    expect(validateFhirResource(resource)[0]).toMatchObject({
      code: 'structure',
      expression: ['Task.focus'],
    });
    const withDate = task();
    withDate.authoredOn = new Date();
    expect(validateFhirResource(withDate)[0]).toMatchObject({
      code: 'structure',
      expression: ['Task.authoredOn'],
    });
  });
});
