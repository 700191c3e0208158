import { FhirError } from '@carerelay/fhir';
import { actorMay, assertScope } from './assert-scope';
import { bearerTokenOf, requiresToken } from './auth.guard';
import type { RequestActor } from './request-actor';

const cbo: RequestActor = {
  clientId: 'c',
  organizationId: 'o',
  role: 'cbo',
  scopes: ['system/Task.rus'],
};

describe('assertScope', () => {
  it('passes when the token grants the interaction', () => {
    expect(() => assertScope(cbo, 'Task', 'update')).not.toThrow();
    expect(() => assertScope(cbo, 'Task', 'search')).not.toThrow();
  });

  it('throws a 403 FhirError naming the missing scope', () => {
    let caught: unknown;
    try {
      assertScope(cbo, 'Patient', 'read');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(FhirError);
    const error = caught as FhirError;
    expect(error.status).toBe(403);
    expect(error.code).toBe('forbidden');
    const outcome = error.toOperationOutcome();
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue[0].diagnostics).toMatch(/system\/Patient\.r/);
    expect(outcome.issue[0].diagnostics).toMatch(/system\/Patient\.read/);
  });

  it('also holds the role ceiling even if a token says more', () => {
    const forged: RequestActor = { ...cbo, scopes: ['system/*.cruds'] };
    expect(() => assertScope(forged, 'Task', 'delete')).toThrow(/may not delete Task/);
    expect(() => assertScope(forged, 'AuditEvent', 'search')).toThrow(FhirError);
    expect(actorMay(forged, 'Task', 'update')).toBe(true);
    expect(actorMay(forged, 'Task', 'create')).toBe(false);
  });
});

describe('requiresToken', () => {
  it.each([
    ['/fhir/Task', true],
    ['/fhir/Task/1/_history/2', true],
    ['/fhir', true],
    ['/fhir/', true],
    ['/fhir/AuditEvent', true],
    ['/fhir/metadata', false],
    ['/fhir/metadata/', false],
    ['/FHIR/Metadata', false],
    ['/fhir/.well-known/smart-configuration', false],
    ['/fhir/auth/token', false],
    ['/fhir/auth/token2', true],
    ['/fhir/metadata/x', true],
    ['/fhirx/Task', false],
    ['/health', false],
  ])('%s → %s', (path, expected) => {
    expect(requiresToken(path)).toBe(expected);
  });
});

describe('bearerTokenOf', () => {
  it('reads a Bearer token, tells a missing header from a malformed one', () => {
    expect(bearerTokenOf('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerTokenOf('bearer abc')).toBe('abc');
    expect(bearerTokenOf(undefined)).toBeUndefined();
    expect(bearerTokenOf('Basic dXNlcjpwYXNz')).toBeNull();
    expect(bearerTokenOf('Bearer')).toBeNull();
    expect(bearerTokenOf('Bearer a b')).toBeNull();
    expect(bearerTokenOf(['Bearer a', 'Bearer b'])).toBeNull();
  });
});
