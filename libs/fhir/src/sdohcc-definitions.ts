import type { SearchParameter } from '@medplum/fhirtypes';

/**
 * Definitions from the HL7 SDOH Clinical Care IG (STU 2.x / 3.0.0) that are not part of FHIR R4
 * itself but that a Coordination Platform must honour. Kept as data so that search and the
 * CapabilityStatement are driven by SearchParameter definitions, exactly like the R4 ones.
 */

export const SDOHCC_BASE = 'http://hl7.org/fhir/us/sdoh-clinicalcare';

/** The IG's "temporary codes" code system: SDOH domains, Task output types, ... */
export const SDOHCC_TEMPORARY_CODES = `${SDOHCC_BASE}/CodeSystem/SDOHCC-CodeSystemTemporaryCodes`;

/** Task.code of a referral Task. */
export const TASK_CODE_SYSTEM = 'http://hl7.org/fhir/CodeSystem/task-code';
export const TASK_CODE_FULFILL = 'fulfill';

/** Task.output.type for "what was done" (→ Procedure) and for additional content (STU 3). */
export const OUTPUT_RESULTING_ACTIVITY = 'resulting-activity';
export const OUTPUT_ADDITIONAL_CONTENT = 'additional-content';

/** Consent.category must contain v3-ActCode#IDSCL (information disclosure). */
export const V3_ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
export const CONSENT_CATEGORY_IDSCL = 'IDSCL';

/** SDOHCC ValueSet SDOH Category (STU 3): the SDOH domains a ServiceRequest.category must name. */
export const SDOH_CATEGORY_CODES: ReadonlySet<string> = new Set([
  'sdoh-category-unspecified',
  'food-insecurity',
  'housing-instability',
  'homelessness',
  'inadequate-housing',
  'transportation-insecurity',
  'financial-insecurity',
  'material-hardship',
  'educational-attainment',
  'employment-status',
  'veteran-status',
  'stress',
  'social-connection',
  'intimate-partner-violence',
  'elder-abuse',
  'personal-health-literacy',
  'health-insurance-coverage-status',
  'medical-cost-burden',
  'digital-literacy',
  'digital-access',
  'utility-insecurity',
  'incarceration-status',
  'language-access',
  'protective-factor',
]);

/** The IG's CapabilityStatement for a Coordination Platform (what CareRelay implements). */
export const SDOHCC_COORDINATION_PLATFORM_CAPABILITY = `${SDOHCC_BASE}/CapabilityStatement/SDOHCC-CoordinationPlatform`;

/**
 * SearchParameters the IG defines on top of R4 (the IG's CapabilityStatement names them:
 * `Task?output=` / `_include=Task:output`, `_include=ServiceRequest:supporting-info` and
 * `_include=ServiceRequest:pertains-to-goal`; `Group?characteristic-reference=` indexes the
 * reference-valued characteristics R4's `characteristic-value` composite leaves out).
 * The `output` expression is the IG's `(Task.output.value as Reference)` written with `ofType`,
 * which is the FHIRPath form the evaluator narrows reliably.
 */
export const SDOHCC_SEARCH_PARAMETERS: readonly SearchParameter[] = [
  {
    resourceType: 'SearchParameter',
    id: 'Task-output-reference',
    url: `${SDOHCC_BASE}/SearchParameter/Task-output-reference`,
    name: 'TaskOutputReference',
    status: 'active',
    description: "The value of any outputs of type 'Reference'",
    code: 'output',
    base: ['Task'],
    type: 'reference',
    expression: 'Task.output.value.ofType(Reference)',
  },
  {
    resourceType: 'SearchParameter',
    id: 'ServiceRequest-supporting-info',
    url: `${SDOHCC_BASE}/SearchParameter/ServiceRequest-supporting-info`,
    name: 'ServiceRequestSupportingInfo',
    status: 'active',
    description: 'Any resources referenced by ServiceRequest.supportingInfo',
    code: 'supporting-info',
    base: ['ServiceRequest'],
    type: 'reference',
    expression: 'ServiceRequest.supportingInfo',
  },
  {
    resourceType: 'SearchParameter',
    id: 'ServiceRequest-pertains-to-goal',
    url: `${SDOHCC_BASE}/SearchParameter/ServiceRequest-pertains-to-goal`,
    name: 'ServiceRequestPertainsToGoal',
    status: 'active',
    description: 'A Goal referenced by the ServiceRequest resource-pertainsToGoal extension',
    code: 'pertains-to-goal',
    base: ['ServiceRequest'],
    type: 'reference',
    expression:
      "ServiceRequest.extension.where(url = 'http://hl7.org/fhir/StructureDefinition/resource-pertainsToGoal').value.ofType(Reference)",
    target: ['Goal'],
  },
  {
    resourceType: 'SearchParameter',
    id: 'Group-characteristic-reference',
    url: `${SDOHCC_BASE}/SearchParameter/Group-characteristic-reference`,
    name: 'SDOHCCGroupCharacteristicReference',
    status: 'active',
    description: 'An entity referenced in a Group characteristic.',
    code: 'characteristic-reference',
    base: ['Group'],
    type: 'reference',
    expression: 'Group.characteristic.value.ofType(Reference)',
  },
];

const SDOHCC_PROFILE = `${SDOHCC_BASE}/StructureDefinition`;
/** The IG (STU 3) is built on US Core 7.0.0; its CapabilityStatements name that version. */
const US_CORE_PROFILE = 'http://hl7.org/fhir/us/core/StructureDefinition';
const US_CORE_VERSION = '7.0.0';
/** Structured Data Capture: the IG's screening Questionnaires and their responses. */
const SDC_PROFILE = 'http://hl7.org/fhir/uv/sdc/StructureDefinition';

/**
 * The profiles the server lists as `supportedProfile`, per resource type: the IG's (its
 * Coordination Platform CapabilityStatement and its examples' `meta.profile`) and US Core's,
 * only where the server stores resources claiming them — each is exercised against the running
 * server with the IG's example of it (or, for Coverage, CareTeam and DocumentReference, which
 * have none, an instance of the US Core profile's mandatory and Must Support elements). The server checks
 * the R4 definitions and the IG's referral rules, not each profile's every constraint.
 */
export const SUPPORTED_PROFILES: Readonly<Record<string, readonly string[]>> = {
  Task: [
    `${SDOHCC_PROFILE}/SDOHCC-TaskForReferralManagement`,
    `${SDOHCC_PROFILE}/SDOHCC-TaskForPatient`,
  ],
  ServiceRequest: [`${SDOHCC_PROFILE}/SDOHCC-ServiceRequest`],
  Procedure: [`${SDOHCC_PROFILE}/SDOHCC-Procedure`],
  Consent: [`${SDOHCC_PROFILE}/SDOHCC-Consent`],
  Condition: [`${SDOHCC_PROFILE}/SDOHCC-Condition`],
  Goal: [`${SDOHCC_PROFILE}/SDOHCC-Goal`],
  HealthcareService: [
    `${SDOHCC_PROFILE}/SDOHCC-HealthcareServiceForReferralManagement`,
    `${SDOHCC_PROFILE}/SDOHCC-HealthcareService`,
  ],
  Group: [`${SDOHCC_PROFILE}/SDOHCC-Group`],
  Observation: [
    `${SDOHCC_PROFILE}/SDOHCC-ObservationAssessment`,
    `${SDOHCC_PROFILE}/SDOHCC-ObservationScreeningResponse`,
  ],
  Questionnaire: [`${SDC_PROFILE}/sdc-questionnaire-extr-smap`],
  QuestionnaireResponse: [`${SDC_PROFILE}/sdc-questionnaireresponse`],
  CareTeam: [`${US_CORE_PROFILE}/us-core-careteam|${US_CORE_VERSION}`],
  DocumentReference: [`${US_CORE_PROFILE}/us-core-documentreference|${US_CORE_VERSION}`],
  Location: [`${SDOHCC_PROFILE}/SDOHCC-Location`],
  PractitionerRole: [`${SDOHCC_PROFILE}/SDOHCC-practitionerrole`],
  Patient: [`${US_CORE_PROFILE}/us-core-patient|${US_CORE_VERSION}`],
  Practitioner: [`${US_CORE_PROFILE}/us-core-practitioner|${US_CORE_VERSION}`],
  Organization: [`${US_CORE_PROFILE}/us-core-organization|${US_CORE_VERSION}`],
  Coverage: [`${US_CORE_PROFILE}/us-core-coverage|${US_CORE_VERSION}`],
};
