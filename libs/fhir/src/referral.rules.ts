import type {
  CodeableConcept,
  Consent,
  OperationOutcomeIssue,
  Procedure,
  Reference,
  Resource,
  ServiceRequest,
  Task,
} from '@medplum/fhirtypes';
import { hasErrors, issue, unprocessableIssues } from './operation-outcome';
import { parseReference } from './references';
import {
  CONSENT_CATEGORY_IDSCL,
  OUTPUT_RESULTING_ACTIVITY,
  SDOH_CATEGORY_CODES,
  SDOHCC_TEMPORARY_CODES,
  TASK_CODE_FULFILL,
  TASK_CODE_SYSTEM,
  V3_ACT_CODE,
} from './sdohcc-definitions';

/**
 * The SDOH Clinical Care IG's rules beyond the R4 base definitions (from its profiles
 * SDOHCC Task For Referral Management, SDOHCC ServiceRequest, SDOHCC Consent, SDOHCC Procedure).
 * Each violation is an error issue (HTTP 422) whose expression points at the element.
 * Run it on a resource that passed `validateFhirResource`, after `urn:uuid:` references were
 * rewritten (a `urn:` reference is accepted, as its target type cannot be told).
 */

export interface ReferralRuleOptions {
  /**
   * The Coordination Platform itself authors the resource (its own sub-Task / ServiceRequest):
   * a Task may then have intent `filler-order`, and a ServiceRequest that is `basedOn` another
   * must be a `filler-order` (the IG's sub-referral examples say `original-order`: the rule wins).
   */
  authoredByPlatform?: boolean;
}

function hasCoding(concept: CodeableConcept | undefined, system: string, code: string): boolean {
  return !!concept?.coding?.some((c) => c.system === system && c.code === code);
}

/** A referral Task: `code` = http://hl7.org/fhir/CodeSystem/task-code#fulfill. */
export function isReferralTask(task: Pick<Task, 'code'>): boolean {
  return hasCoding(task.code, TASK_CODE_SYSTEM, TASK_CODE_FULFILL);
}

/** The resource contained in `container` under `id`. */
export function containedOf(container: Resource | undefined, id: string): Resource | undefined {
  const contained = (container as { contained?: Resource[] } | undefined)?.contained;
  return Array.isArray(contained) ? contained.find((c) => c?.id === id) : undefined;
}

const required = (expression: string, what: string): OperationOutcomeIssue =>
  issue('error', 'required', `${what} is required`, expression);

const rule = (expression: string, diagnostics: string): OperationOutcomeIssue =>
  issue('error', 'business-rule', diagnostics, expression);

/**
 * Checks that a reference exists, has a `reference` string and, when the target type can be
 * told (relative or absolute URL, or `Reference.type`), that it is one of `types`.
 */
function checkReference(
  issues: OperationOutcomeIssue[],
  ref: Reference | undefined,
  expression: string,
  types: readonly string[],
  container?: Resource,
): void {
  if (ref === undefined) {
    issues.push(required(expression, expression));
    return;
  }
  if (typeof ref.reference !== 'string' || ref.reference === '') {
    issues.push(rule(expression, `${expression} must have a reference (Type/id or URL)`));
    return;
  }
  const parsed = parseReference(ref.reference);
  if (!parsed) {
    issues.push(rule(expression, `${expression} is not a resolvable reference: ${ref.reference}`));
    return;
  }
  let type: string | undefined;
  if (parsed.kind === 'contained' && !container) {
    issues.push(
      rule(
        expression,
        `${expression} must reference a resource of its own, not a contained one (${ref.reference})`,
      ),
    );
    return;
  }
  if (parsed.kind === 'contained') {
    // A reference to a resource contained in this one (R4 allows it for any Reference).
    type = containedOf(container, parsed.id)?.resourceType;
    if (type === undefined) {
      issues.push(rule(expression, `${expression} names no contained resource: ${ref.reference}`));
      return;
    }
  } else type = parsed.kind === 'urn' ? ref.type : parsed.resourceType;
  if (type !== undefined && !types.includes(type)) {
    issues.push(
      rule(expression, `${expression} must reference ${types.join(' or ')}, not ${type}`),
    );
  }
}

function taskRules(task: Task, options: ReferralRuleOptions): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  if (
    task.statusReason !== undefined &&
    (typeof task.statusReason.text !== 'string' || task.statusReason.text.trim() === '')
  ) {
    issues.push(
      required('Task.statusReason.text', 'Task.statusReason.text (when statusReason is given)'),
    );
  }
  if (!task.code) {
    issues.push(required('Task.code', 'Task.code'));
    return issues;
  }
  if (!isReferralTask(task)) {
    return issues; // not a referral (e.g. an SDOHCC Task For Patient): the rules below do not apply
  }
  const intents = options.authoredByPlatform ? ['order', 'filler-order'] : ['order'];
  if (!intents.includes(task.intent)) {
    issues.push(
      issue(
        'error',
        'value',
        `A referral Task's intent must be ${intents.join(' or ')}, not ${task.intent}`,
        'Task.intent',
      ),
    );
  }
  // Not contained: the CBO's filler-order ServiceRequest must be basedOn the referral's own.
  checkReference(issues, task.focus, 'Task.focus', ['ServiceRequest']);
  checkReference(issues, task.for, 'Task.for', ['Patient', 'RelatedPerson', 'Group'], task);
  if (!task.authoredOn) {
    issues.push(required('Task.authoredOn', 'Task.authoredOn'));
  }
  checkReference(
    issues,
    task.requester,
    'Task.requester',
    ['PractitionerRole', 'Organization'],
    task,
  );
  (task.output ?? []).forEach((output, i) => {
    if (!hasCoding(output.type, SDOHCC_TEMPORARY_CODES, OUTPUT_RESULTING_ACTIVITY)) {
      return;
    }
    const expression = `Task.output[${i}].value`;
    if (output.valueReference) {
      checkReference(issues, output.valueReference, expression, ['Procedure'], task);
    } else if (!output.valueCodeableConcept) {
      issues.push(
        rule(expression, 'A resulting-activity output must be a Procedure reference or a code'),
      );
    }
  });
  return issues;
}

function serviceRequestRules(
  sr: ServiceRequest,
  options: ReferralRuleOptions,
): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  // No SDOH category is required: IG versions differ on the slice's cardinality and EHRs send
  // ServiceRequests without one, or with categories of other systems only (the domain is then
  // derived from the code where it can be). A category coding in the IG's own code system must
  // still be one of its SDOH domains.
  (sr.category ?? []).forEach((category, i) => {
    const unknown = category.coding?.find(
      (coding) =>
        coding.system === SDOHCC_TEMPORARY_CODES && !SDOH_CATEGORY_CODES.has(coding.code ?? ''),
    );
    if (unknown)
      issues.push(
        issue(
          'error',
          'value',
          `ServiceRequest.category ${unknown.code} is not in the SDOHCC SDOH Category value set`,
          `ServiceRequest.category[${i}]`,
        ),
      );
  });
  if (!sr.code) {
    issues.push(required('ServiceRequest.code', 'ServiceRequest.code'));
  }
  checkReference(
    issues,
    sr.subject,
    'ServiceRequest.subject',
    ['Patient', 'Group', 'Location'],
    sr,
  );
  if (sr.intent === 'filler-order' && !sr.basedOn?.length) {
    issues.push(
      rule(
        'ServiceRequest.basedOn',
        'A filler-order ServiceRequest must be basedOn the original ServiceRequest',
      ),
    );
  }
  if (options.authoredByPlatform && sr.basedOn?.length && sr.intent !== 'filler-order') {
    issues.push(
      issue(
        'error',
        'value',
        "The platform's own ServiceRequest based on a referral must have intent filler-order",
        'ServiceRequest.intent',
      ),
    );
  }
  return issues;
}

function consentRules(consent: Consent): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  if (!consent.status) {
    issues.push(required('Consent.status', 'Consent.status'));
  }
  if (!consent.scope) {
    issues.push(required('Consent.scope', 'Consent.scope'));
  }
  if (!consent.category?.some((c) => hasCoding(c, V3_ACT_CODE, CONSENT_CATEGORY_IDSCL))) {
    issues.push(
      issue(
        'error',
        'value',
        `Consent.category must include ${V3_ACT_CODE}#${CONSENT_CATEGORY_IDSCL}`,
        'Consent.category',
      ),
    );
  }
  checkReference(issues, consent.patient, 'Consent.patient', ['Patient'], consent);
  if (!consent.dateTime) {
    issues.push(required('Consent.dateTime', 'Consent.dateTime'));
  }
  if (consent.organization?.length !== 1) {
    issues.push(
      rule('Consent.organization', 'Consent.organization must name exactly one organization'),
    );
  } else {
    checkReference(
      issues,
      consent.organization[0],
      'Consent.organization[0]',
      ['Organization'],
      consent,
    );
  }
  if (!consent.sourceAttachment && !consent.sourceReference) {
    issues.push(
      required('Consent.source', 'Consent.source[x] (the signed form or a reference to it)'),
    );
  }
  return issues;
}

function procedureRules(procedure: Procedure): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  if (!procedure.code) {
    issues.push(required('Procedure.code', 'Procedure.code'));
  }
  const performed =
    procedure.performedDateTime ??
    procedure.performedPeriod ??
    procedure.performedString ??
    procedure.performedAge ??
    procedure.performedRange;
  if (
    (procedure.status === 'completed' || procedure.status === 'in-progress') &&
    performed === undefined
  ) {
    issues.push(
      required('Procedure.performed', `Procedure.performed[x] (status ${procedure.status})`),
    );
  }
  return issues;
}

/**
 * The IG's referral rules for Task, ServiceRequest, Consent and Procedure (other types: none).
 * Returns the error issues; an empty list means the resource follows the rules.
 */
export function validateReferralRules(
  resource: Resource,
  options: ReferralRuleOptions = {},
): OperationOutcomeIssue[] {
  switch (resource.resourceType) {
    case 'Task':
      return taskRules(resource, options);
    case 'ServiceRequest':
      return serviceRequestRules(resource, options);
    case 'Consent':
      return consentRules(resource);
    case 'Procedure':
      return procedureRules(resource);
    default:
      return [];
  }
}

/** Throws a FhirError 422 carrying every broken rule. */
export function assertReferralRules(resource: Resource, options: ReferralRuleOptions = {}): void {
  const issues = validateReferralRules(resource, options);
  if (hasErrors(issues)) {
    throw unprocessableIssues(issues);
  }
}
