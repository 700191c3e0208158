import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Test fixtures: the SDOH Clinical Care IG examples (CC0-1.0), copied from
 * shared/fhir/sdoh-ig-examples so that the tests do not depend on files outside the repo.
 * Every call returns a fresh copy that a test may mutate.
 */
export function fixture<T = Record<string, unknown>>(name: string): T {
  const file = name.endsWith('.json') ? name : `${name}.json`;
  return JSON.parse(readFileSync(join(__dirname, file), 'utf8')) as T;
}

export const TASK_ACCEPTED = 'Task-SDOHCC-TaskReferralManagementOrderFulfillmentAcceptedExample';
export const TASK_COMPLETED = 'Task-SDOHCC-TaskReferralManagementOrderFulfillmentCompletedExample';
export const SUBTASK_ACCEPTED = 'Task-SDOHCC-TaskReferralManagementOrderSubtaskAcceptedExample';
export const TASK_POSTED = 'api-walkthrough/01-POST-Task-requested';
export const SERVICE_REQUEST =
  'ServiceRequest-SDOHCC-ServiceRequestActiveFoodPantryApplicationAssistExample';
export const SUB_SERVICE_REQUEST =
  'ServiceRequest-SDOHCC-ServiceRequestSubreferralSummerFoodProgramExample';
export const CONSENT = 'Consent-SDOHCC-ConsentInformationDisclosureExample';
export const PROCEDURE = 'Procedure-SDOHCC-ProcedureFoodPantryApplicationAssistanceExample';
export const PATIENT = 'Patient-pat-53234';
export const HEALTHCARE_SERVICE = 'HealthcareService-SDOHCC-HealthcareServiceSocialCareProgram';

/** Every example file name (without .json), top level and api-walkthrough. */
export function allFixtureNames(): string[] {
  const top = readdirSync(__dirname).filter((f) => f.endsWith('.json'));
  const walk = readdirSync(join(__dirname, 'api-walkthrough'))
    .filter((f) => f.endsWith('.json'))
    .map((f) => `api-walkthrough/${f}`);
  return [...top, ...walk].map((f) => f.replace(/\.json$/, ''));
}
