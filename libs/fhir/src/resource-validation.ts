import {
  OperationOutcomeError,
  crawlTypedValue,
  toTypedValue,
  validateResource,
  type InternalTypeSchema,
  type TypedValueWithPath,
} from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { isR4ResourceType, loadFhirDefinitions, valueSetCodesFor } from './fhir-definitions';
import { badRequestIssues, hasErrors, issue } from './operation-outcome';
import { FHIR_ID_PATTERN } from './references';

/**
 * The resource types the SDOH Clinical Care IG's Coordination Platform CapabilityStatement
 * requires a CP server to support, Coverage (US Core), where a referral's payer lives, and
 * Endpoint: the EHR FHIR servers registered for an organization (written by the platform only),
 * on whose base a referral Task may name its ServiceRequest and Patient.
 */
export const SUPPORTED_RESOURCE_TYPES = [
  'Task',
  'ServiceRequest',
  'Procedure',
  'Consent',
  'Patient',
  'Condition',
  'Goal',
  'Observation',
  'QuestionnaireResponse',
  'Practitioner',
  'PractitionerRole',
  'Organization',
  'HealthcareService',
  'Location',
  'DocumentReference',
  'Group',
  'CareTeam',
  'RelatedPerson',
  'Coverage',
  'Device',
  'Questionnaire',
  'Endpoint',
] as const;

export type SupportedResourceType = (typeof SUPPORTED_RESOURCE_TYPES)[number];

/** Served too, but by dedicated code paths (audit trail, Backport subscriptions, transactions). */
export const SEPARATELY_HANDLED_RESOURCE_TYPES = ['AuditEvent', 'Subscription', 'Bundle'] as const;

const supported: ReadonlySet<string> = new Set(SUPPORTED_RESOURCE_TYPES);

export function isSupportedResourceType(type: unknown): type is SupportedResourceType {
  return typeof type === 'string' && supported.has(type);
}

/** JSON nested deeper than this is rejected before the validator recurses into it. */
export const MAX_JSON_DEPTH = 64;

export interface ValidateOptions {
  /** When given, a body of another type is an error (e.g. PUT /Task/1 with a Patient body). */
  expectedResourceType?: string;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Keys that are not FHIR elements but would be found on any object's prototype. */
const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype));

/**
 * Checks, iteratively (no recursion on hostile input), that the value is plain JSON that the
 * validator can be trusted with: nesting depth, plain prototypes, and no key named like an
 * Object.prototype member (`__proto__`, `constructor`, `toString`...), which the validator
 * would otherwise mistake for known elements; and no empty string, array or object, which FHIR
 * JSON forbids and the validator lets through as if the element were absent.
 */
function plainJsonProblem(value: unknown, maxDepth: number): OperationOutcomeIssue | undefined {
  const stack: [unknown, number, string][] = [[value, 1, '']];
  while (stack.length > 0) {
    const [current, depth, path] = stack.pop() as [unknown, number, string];
    if (current === '') {
      return issue('error', 'structure', 'Empty strings are not allowed', path || undefined);
    }
    if (typeof current !== 'object' || current === null) {
      continue;
    }
    if (depth > maxDepth) {
      return issue('error', 'structure', `JSON nested deeper than ${maxDepth} levels`);
    }
    const proto = Object.getPrototypeOf(current);
    if (proto !== Object.prototype && proto !== Array.prototype) {
      return issue('error', 'structure', 'Not plain JSON', path || undefined);
    }
    if (Array.isArray(current)) {
      if (current.length === 0) {
        return issue('error', 'structure', 'Empty arrays are not allowed', path || undefined);
      }
      current.forEach((child, i) => stack.push([child, depth + 1, `${path}[${i}]`]));
      continue;
    }
    const keys = Object.keys(current);
    if (keys.length === 0) {
      return issue('error', 'structure', 'Empty objects are not allowed', path || undefined);
    }
    for (const key of keys) {
      const childPath = path ? `${path}.${key}` : key;
      if (PROTOTYPE_KEYS.has(key)) {
        return issue('error', 'structure', `Invalid property "${key}"`, childPath);
      }
      stack.push([(current as Record<string, unknown>)[key], depth + 1, childPath]);
    }
  }
  return undefined;
}

/** @medplum/core puts its message in details.text; FHIR clients read diagnostics. */
function normaliseIssue(raw: OperationOutcomeIssue): OperationOutcomeIssue {
  const text = [raw.details?.text, raw.diagnostics].filter(Boolean).join(' ');
  const result = issue(raw.severity ?? 'error', raw.code ?? 'invalid', text || undefined);
  if (raw.expression?.length) {
    result.expression = [...raw.expression];
  }
  return result;
}

/**
 * Required bindings on `code` elements (Task.status, Task.intent, Identifier.use, ...), which
 * @medplum/core's validator does not check. Value sets that cannot be enumerated from the R4
 * definitions (mime types, currencies, languages) are skipped.
 */
function requiredBindingIssues(resource: Resource): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  crawlTypedValue(
    toTypedValue(resource),
    {
      visitProperty(
        _parent: TypedValueWithPath,
        key: string,
        _path: string,
        propertyValues: (TypedValueWithPath | TypedValueWithPath[])[],
        schema: InternalTypeSchema,
      ): void {
        const element = schema.elements[key];
        const binding = element?.binding;
        if (binding?.strength !== 'required' || !binding.valueSet) {
          return;
        }
        for (const value of propertyValues.flat()) {
          if (value?.type !== 'code' || typeof value.value !== 'string') {
            continue;
          }
          const codes = valueSetCodesFor(binding.valueSet);
          if (codes && !codes.has(value.value)) {
            issues.push(
              issue(
                'error',
                'code-invalid',
                `Value "${value.value}" is not in the required value set ${binding.valueSet.split('|')[0]}`,
                value.path,
              ),
            );
          }
        }
      },
    },
    { skipMissingProperties: true },
  );
  return issues;
}

/**
 * Validates a parsed JSON body against the FHIR R4 base definitions (structure, cardinality,
 * primitive formats, invariants, required code bindings). Never throws: returns the issues
 * (errors and warnings); an empty list means valid. Expressions look like `Task.status` or
 * `Task.input[0].type`.
 */
export function validateFhirResource(
  resource: unknown,
  options: ValidateOptions = {},
): OperationOutcomeIssue[] {
  if (!isPlainObject(resource)) {
    return [issue('error', 'structure', 'A resource must be a JSON object')];
  }
  const resourceType = resource.resourceType;
  if (typeof resourceType !== 'string' || resourceType.length === 0) {
    return [issue('error', 'structure', 'Missing resourceType', 'resourceType')];
  }
  loadFhirDefinitions();
  if (!isR4ResourceType(resourceType)) {
    return [
      issue('error', 'not-supported', `Unknown resource type "${resourceType}"`, 'resourceType'),
    ];
  }
  if (options.expectedResourceType && resourceType !== options.expectedResourceType) {
    return [
      issue(
        'error',
        'invalid',
        `Expected a ${options.expectedResourceType} but the body is a ${resourceType}`,
        'resourceType',
      ),
    ];
  }
  const problem = plainJsonProblem(resource, MAX_JSON_DEPTH);
  if (problem) {
    if (problem.expression) {
      problem.expression = [`${resourceType}.${problem.expression[0]}`];
    }
    return [problem];
  }

  let issues: OperationOutcomeIssue[];
  try {
    issues = validateResource(resource as unknown as Resource).map(normaliseIssue);
  } catch (error) {
    if (error instanceof OperationOutcomeError) {
      const raw = error.outcome.issue ?? [];
      issues = raw.length
        ? raw.map(normaliseIssue)
        : [issue('error', 'invalid', 'Invalid resource')];
    } else {
      // The validator tripped over input it did not expect: still a malformed body.
      return [issue('error', 'structure', `Malformed ${resourceType}`)];
    }
  }
  // Resource.id is typed as a plain string by the validator: check the FHIR id format here.
  const ids: [unknown, string][] = [[resource.id, `${resourceType}.id`]];
  if (Array.isArray(resource.contained)) {
    resource.contained.forEach((c, i) => {
      if (isPlainObject(c)) {
        ids.push([c.id, `${resourceType}.contained[${i}].id`]);
      }
    });
  }
  for (const [id, expression] of ids) {
    if (typeof id === 'string' && !FHIR_ID_PATTERN.test(id)) {
      issues.push(issue('error', 'structure', `Invalid id "${id.slice(0, 80)}"`, expression));
    }
  }
  if (hasErrors(issues)) {
    return issues;
  }
  try {
    return [...issues, ...requiredBindingIssues(resource as unknown as Resource)];
  } catch {
    return [...issues, issue('error', 'structure', `Malformed ${resourceType}`)];
  }
}

/**
 * Validates and returns the resource typed, or throws a FhirError 400 carrying every error issue.
 */
export function assertValidFhirResource<T extends Resource = Resource>(
  resource: unknown,
  options: ValidateOptions = {},
): T {
  const issues = validateFhirResource(resource, options);
  if (hasErrors(issues)) {
    throw badRequestIssues(issues.filter((i) => i.severity === 'error' || i.severity === 'fatal'));
  }
  return resource as T;
}
