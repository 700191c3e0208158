/**
 * The case manager's actions as changes of the CBO Task (the owner may change only status,
 * statusReason and output). Whether a change is allowed is the FHIR API's decision (its 409/422
 * come back as plain messages); here only what to send.
 */
import type { Resource } from './referral-view';

export const REJECT_REASONS = [
  'no-capacity',
  'not-eligible',
  'out-of-area',
  'unable-to-contact',
  'declined-by-patient',
  'other',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export const REJECT_REASON_SYSTEM = 'urn:carerelay:cbo-reject-reason';
export const SDOHCC_TEMPORARY_CODES =
  'http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes';

/** The coded reason's wording in Task.statusReason.text: what analytics reads the reason from. */
const REASON_TEXT: Record<RejectReason, string> = {
  'no-capacity': 'No capacity',
  'not-eligible': 'Client does not meet eligibility requirements',
  'out-of-area': 'Outside our service area',
  'unable-to-contact': 'Unable to contact the client',
  'declined-by-patient': 'Client declined',
  other: 'Other reason',
};

export type ReferralAction =
  | { action: 'accept' }
  | { action: 'reject'; reason: RejectReason; text?: string }
  | { action: 'start' }
  | { action: 'hold'; text?: string }
  | { action: 'resume' }
  | { action: 'complete'; outcome: string; procedureId: string };

const TARGET: Record<ReferralAction['action'], string> = {
  accept: 'accepted',
  reject: 'rejected',
  start: 'in-progress',
  hold: 'on-hold',
  resume: 'in-progress',
  complete: 'completed',
};

export function targetStatus(action: ReferralAction['action']): string {
  return TARGET[action];
}

/** The next version of the Task for `action` (the stored one is not changed). */
export function applyAction(current: Resource, action: ReferralAction): Resource {
  const next: Resource = { ...current, status: TARGET[action.action] };
  delete next.statusReason;
  if (action.action === 'reject') {
    const text = [REASON_TEXT[action.reason], action.text?.trim()].filter(Boolean).join(': ');
    next.statusReason = {
      coding: [{ system: REJECT_REASON_SYSTEM, code: action.reason }],
      text,
    };
  }
  if (action.action === 'hold' && action.text?.trim()) {
    next.statusReason = { text: action.text.trim() };
  }
  if (action.action === 'complete') {
    next.output = [
      {
        type: { coding: [{ system: SDOHCC_TEMPORARY_CODES, code: 'resulting-activity' }] },
        valueReference: { reference: `Procedure/${action.procedureId}` },
      },
    ];
  }
  return next;
}

/** The Procedure a completion records: what was done, for whom, by whom, when. */
export function outcomeProcedure(
  task: Resource,
  serviceRequest: Resource | undefined,
  outcome: string,
  performerOrganizationId: string,
  now: Date,
): Resource {
  return {
    resourceType: 'Procedure',
    status: 'completed',
    code: { ...((serviceRequest?.code as object) ?? {}), text: outcome },
    subject: task.for,
    ...(serviceRequest?.id
      ? { basedOn: [{ reference: `ServiceRequest/${serviceRequest.id}` }] }
      : {}),
    performedDateTime: now.toISOString(),
    performer: [{ actor: { reference: `Organization/${performerOrganizationId}` } }],
  };
}
