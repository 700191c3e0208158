import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

/**
 * FHIR errors as values: an HTTP status plus OperationOutcome issues. Helpers return a FhirError
 * (they do not throw) so callers write `throw badRequest('...', 'Task.status')`.
 *
 * Status conventions (FHIR R4 http.html): 400 malformed input (cannot be parsed, fails the base
 * definitions, unknown search parameter), 422 a business rule is broken (IG referral rules, an
 * illegal status transition), 401/403 auth, 404/410 missing/deleted, 409/412 conflicts,
 * 413 body too large.
 */

export type IssueSeverity = OperationOutcomeIssue['severity'];
export type IssueCode = OperationOutcomeIssue['code'];

export class FhirError extends Error {
  readonly status: number;
  readonly issues: readonly OperationOutcomeIssue[];

  constructor(status: number, issues: readonly OperationOutcomeIssue[], message?: string) {
    const text = issues.map((i) => i.diagnostics ?? i.code).join('; ');
    super(message ?? (text || `HTTP ${status}`));
    this.name = 'FhirError';
    this.status = status;
    this.issues = issues;
  }

  /** The OperationOutcome to send as the response body. */
  toOperationOutcome(): OperationOutcome {
    return operationOutcome(this.issues);
  }

  /** The first issue's first expression, if any (handy in tests and logs). */
  get expression(): string | undefined {
    return this.issues[0]?.expression?.[0];
  }

  /** The first issue's code. */
  get code(): IssueCode | undefined {
    return this.issues[0]?.code;
  }
}

export function isFhirError(value: unknown): value is FhirError {
  return value instanceof FhirError;
}

/** Builds an issue; `expression` may be one FHIRPath or several. */
export function issue(
  severity: IssueSeverity,
  code: IssueCode,
  diagnostics?: string,
  expression?: string | string[],
): OperationOutcomeIssue {
  const result: OperationOutcomeIssue = { severity, code };
  if (diagnostics !== undefined) {
    result.diagnostics = diagnostics;
  }
  if (expression !== undefined) {
    result.expression = Array.isArray(expression) ? expression : [expression];
  }
  return result;
}

/** Builds an OperationOutcome from issues (an empty list becomes one "All OK" information issue). */
export function operationOutcome(issues: readonly OperationOutcomeIssue[]): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: issues.length > 0 ? [...issues] : [issue('information', 'informational', 'All OK')],
  };
}

/** An OperationOutcome carrying one information message (e.g. the body of a successful DELETE). */
export function informational(diagnostics: string): OperationOutcome {
  return operationOutcome([issue('information', 'informational', diagnostics)]);
}

function single(
  status: number,
  code: IssueCode,
  diagnostics: string,
  expression?: string | string[],
): FhirError {
  return new FhirError(status, [issue('error', code, diagnostics, expression)]);
}

/** 400: malformed input. `code` is 'invalid' (default), 'structure', 'value', 'required', 'not-supported', ... */
export function badRequest(
  diagnostics: string,
  expression?: string | string[],
  code:
    'invalid' | 'structure' | 'required' | 'value' | 'not-supported' | 'code-invalid' = 'invalid',
): FhirError {
  return single(400, code, diagnostics, expression);
}

/** 422: a business rule is broken. `code` is 'business-rule' (default), 'invariant', 'required', 'value' or 'code-invalid'. */
export function unprocessable(
  diagnostics: string,
  expression?: string | string[],
  code: 'business-rule' | 'invariant' | 'required' | 'value' | 'code-invalid' = 'business-rule',
): FhirError {
  return single(422, code, diagnostics, expression);
}

export function unauthorized(diagnostics = 'Authentication required'): FhirError {
  return single(401, 'login', diagnostics);
}

export function forbidden(diagnostics = 'Forbidden', expression?: string | string[]): FhirError {
  return single(403, 'forbidden', diagnostics, expression);
}

export function notFound(diagnostics = 'Resource not found'): FhirError {
  return single(404, 'not-found', diagnostics);
}

export function methodNotAllowed(diagnostics = 'Method not allowed'): FhirError {
  return single(405, 'not-supported', diagnostics);
}

/** 406: the client accepts no format this server produces (FHIR JSON and FHIR XML). */
export function notAcceptable(diagnostics: string): FhirError {
  return single(406, 'not-supported', diagnostics);
}

export function conflict(diagnostics: string): FhirError {
  return single(409, 'conflict', diagnostics);
}

export function gone(diagnostics = 'Resource deleted'): FhirError {
  return single(410, 'deleted', diagnostics);
}

/** 412: stale `If-Match`, or a conditional create that matched several resources. */
export function preconditionFailed(diagnostics: string): FhirError {
  return single(412, 'conflict', diagnostics);
}

export function tooLarge(diagnostics = 'Request body too large'): FhirError {
  return single(413, 'too-long', diagnostics);
}

export function unsupportedMediaType(diagnostics = 'Unsupported media type'): FhirError {
  return single(415, 'not-supported', diagnostics);
}

/** 503: a dependency (the database) is unavailable; the client should retry later. */
export function serviceUnavailable(
  diagnostics = 'The service is temporarily unavailable; retry later',
): FhirError {
  return single(503, 'transient', diagnostics);
}

/** 500 with a generic message: internal details stay in the logs, never in the response. */
export function internalError(diagnostics = 'Internal server error'): FhirError {
  return single(500, 'exception', diagnostics);
}

/** 422 FhirError from several issues (e.g. every referral rule broken at once). */
export function unprocessableIssues(issues: readonly OperationOutcomeIssue[]): FhirError {
  return new FhirError(422, issues);
}

/** 400 FhirError from several issues (e.g. every structural problem found by the validator). */
export function badRequestIssues(issues: readonly OperationOutcomeIssue[]): FhirError {
  return new FhirError(400, issues);
}

/**
 * Any thrown value as a FhirError: a FhirError is returned as is; anything else becomes a 500
 * whose body says nothing about the cause (log the original error yourself).
 */
export function toFhirError(error: unknown): FhirError {
  if (error instanceof FhirError) {
    return error;
  }
  return internalError();
}

/** The OperationOutcome for any thrown value (see toFhirError). */
export function toOperationOutcome(error: unknown): OperationOutcome {
  return toFhirError(error).toOperationOutcome();
}

/** True when an issue list holds at least one error or fatal issue. */
export function hasErrors(issues: readonly OperationOutcomeIssue[]): boolean {
  return issues.some((i) => i.severity === 'error' || i.severity === 'fatal');
}
