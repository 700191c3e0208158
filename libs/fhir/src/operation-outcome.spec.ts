import {
  FhirError,
  badRequest,
  conflict,
  forbidden,
  gone,
  informational,
  internalError,
  issue,
  notFound,
  operationOutcome,
  preconditionFailed,
  toFhirError,
  toOperationOutcome,
  tooLarge,
  unauthorized,
  unprocessable,
  unprocessableIssues,
  unsupportedMediaType,
} from './operation-outcome';

describe('FhirError helpers', () => {
  it.each([
    [badRequest('bad'), 400, 'invalid'],
    [badRequest('bad', undefined, 'structure'), 400, 'structure'],
    [unprocessable('rule'), 422, 'business-rule'],
    [unprocessable('inv', 'Task.x', 'invariant'), 422, 'invariant'],
    [unauthorized(), 401, 'login'],
    [forbidden(), 403, 'forbidden'],
    [notFound(), 404, 'not-found'],
    [conflict('c'), 409, 'conflict'],
    [gone(), 410, 'deleted'],
    [preconditionFailed('stale'), 412, 'conflict'],
    [tooLarge(), 413, 'too-long'],
    [unsupportedMediaType(), 415, 'not-supported'],
    [internalError(), 500, 'exception'],
  ])('%# has status %i and issue code %s', (error, status, code) => {
    expect(error).toBeInstanceOf(FhirError);
    expect(error).toBeInstanceOf(Error);
    expect(error.status).toBe(status);
    expect(error.code).toBe(code);
    expect(error.issues[0].severity).toBe('error');
  });

  it('carries diagnostics and the FHIRPath expression into the OperationOutcome', () => {
    const error = unprocessable('Illegal transition', 'Task.status');
    expect(error.message).toBe('Illegal transition');
    expect(error.expression).toBe('Task.status');
    expect(error.toOperationOutcome()).toEqual({
      resourceType: 'OperationOutcome',
      issue: [
        {
          severity: 'error',
          code: 'business-rule',
          diagnostics: 'Illegal transition',
          expression: ['Task.status'],
        },
      ],
    });
  });

  it('keeps several issues', () => {
    const error = unprocessableIssues([
      issue('error', 'required', 'a', 'Task.for'),
      issue('error', 'required', 'b', ['Task.focus', 'Task.code']),
    ]);
    expect(error.status).toBe(422);
    expect(error.toOperationOutcome().issue.map((i) => i.expression)).toEqual([
      ['Task.for'],
      ['Task.focus', 'Task.code'],
    ]);
    expect(error.message).toBe('a; b');
  });

  it('turns any other thrown value into a 500 that leaks nothing', () => {
    const outcome = toOperationOutcome(new Error('password=hunter2 at db.ts:42'));
    expect(JSON.stringify(outcome)).not.toContain('hunter2');
    expect(outcome.issue[0]).toMatchObject({ severity: 'error', code: 'exception' });
    expect(toFhirError('a string').status).toBe(500);
    const original = forbidden('no');
    expect(toFhirError(original)).toBe(original);
  });

  it('builds OperationOutcomes, an empty one saying all is well', () => {
    expect(operationOutcome([]).issue).toEqual([
      { severity: 'information', code: 'informational', diagnostics: 'All OK' },
    ]);
    expect(informational('Deleted').issue[0].diagnostics).toBe('Deleted');
  });
});
