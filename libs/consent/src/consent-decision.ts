import type { CodeableConcept, Consent, ConsentProvision, Reference } from '@medplum/fhirtypes';
import { fhirInstantBounds } from './fhir-time';
import { labelCodes } from './security-labels';

export const CONSENT_STATUSES = [
  'draft',
  'proposed',
  'active',
  'rejected',
  'inactive',
  'entered-in-error',
] as const;
export type ConsentStatus = (typeof CONSENT_STATUSES)[number];

export const PARTICIPATION_TYPE = 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType';
/** provision.actor role of an information recipient. */
export const RECIPIENT_ROLE = 'IRCP';

/**
 * What one FHIR Consent decides, flattened for evaluation.
 *
 * Recipients: the Organizations named in the root `provision.actor` with role IRCP
 * (v3-ParticipationType). `Consent.organization` is NOT a recipient: in R4 it is the custodian,
 * "the organization that manages the consent", and the SDOHCC example
 * (SDOHCC-ConsentInformationDisclosureExample) names a payer there while having no provision at
 * all. A consent without IRCP actors therefore applies to the whole network (`organizationIds:
 * null`): the IG example is a network-wide permit for the patient's SDOH information.
 */
export interface ConsentDecision {
  consentId: string;
  patientId: string;
  /** Named recipients (Organization ids); null: every organization in the network. */
  organizationIds: string[] | null;
  /** Consent.organization: who manages the consent (informational). */
  custodianOrganizationId: string | null;
  status: ConsentStatus;
  /** The root provision's type; a Consent without provision (the IG example) permits. */
  provision: 'permit' | 'deny';
  /** First instant in force (ISO), or null: since always. */
  periodStart: string | null;
  /** First instant no longer in force (ISO, exclusive), or null: open-ended. */
  periodEnd: string | null;
  /** provision.purpose codes (e.g. TREAT, HPAYMT); empty: any purpose. */
  purposes: string[];
  /** Every label code from meta.security and provision.securityLabel (e.g. 42CFRPart2, R). */
  securityLabels: string[];
  /** provision.securityLabel codes alone: they scope a deny to data carrying those labels. */
  provisionLabels: string[];
  /** Consent.dateTime (ISO) when present: which of two consents is the more recent. */
  dateTime: string | null;
  /**
   * Parts that could not be interpreted. A permit with problems allows nothing (fail closed); a
   * deny with problems still denies, to the whole network when its recipients are unreadable.
   */
  problems: string[];
}

/** Why a Consent cannot be read: a fixed code, safe to log (the message never quotes values). */
export type ConsentFormatCode =
  | 'not-a-consent'
  | 'id-missing'
  | 'patient-not-a-patient-reference'
  | 'status-unknown'
  | 'provision-type-unknown'
  | 'no-resource';

export class ConsentFormatError extends Error {
  override name = 'ConsentFormatError';
  constructor(
    readonly code: ConsentFormatCode,
    message: string,
  ) {
    super(message);
  }
}

/** The id of `Type/id` or `http…/Type/id[/_history/n]` when Type is the one expected. */
export function referencedId(
  reference: Reference | undefined,
  resourceType: string,
): string | undefined {
  const value = reference?.reference;
  if (typeof value !== 'string') return undefined;
  const match =
    /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/.exec(
      value,
    );
  return match && match[1] === resourceType ? match[2] : undefined;
}

const isRecipientRole = (role: CodeableConcept | undefined): boolean =>
  (role?.coding ?? []).some(
    (coding) =>
      coding.code === RECIPIENT_ROLE &&
      (coding.system === undefined || coding.system === PARTICIPATION_TYPE),
  );

/**
 * Flattens a FHIR R4 Consent into a decision. Throws ConsentFormatError when the Consent lacks
 * what any decision needs (an id, a Patient, a known status).
 */
export function consentDecisionFrom(consent: Consent): ConsentDecision {
  if (consent?.resourceType !== 'Consent')
    throw new ConsentFormatError('not-a-consent', 'not a Consent');
  if (!consent.id) throw new ConsentFormatError('id-missing', 'Consent.id is missing');
  const patientId = referencedId(consent.patient, 'Patient');
  if (!patientId)
    throw new ConsentFormatError(
      'patient-not-a-patient-reference',
      'Consent.patient must reference a Patient',
    );
  if (!(CONSENT_STATUSES as readonly string[]).includes(consent.status)) {
    throw new ConsentFormatError('status-unknown', 'Consent.status is not a known status');
  }
  const problems: string[] = [];
  const provision: ConsentProvision = consent.provision ?? {};
  const type = provision.type ?? 'permit';
  if (type !== 'permit' && type !== 'deny') {
    throw new ConsentFormatError(
      'provision-type-unknown',
      'Consent.provision.type is neither permit nor deny',
    );
  }
  if ((provision.provision ?? []).length > 0) {
    problems.push('nested provisions (exceptions) are not interpreted');
  }

  const recipients = (provision.actor ?? []).filter((actor) => isRecipientRole(actor.role));
  const organizationIds = [
    ...new Set(
      recipients
        .map((actor) => referencedId(actor.reference, 'Organization'))
        .filter((id): id is string => id !== undefined),
    ),
  ].sort();
  const unreadableRecipient = organizationIds.length < recipients.length;
  if (unreadableRecipient) {
    problems.push('a recipient (IRCP actor) is not an Organization reference');
  }

  let periodStart: string | null = null;
  let periodEnd: string | null = null;
  if (provision.period?.start !== undefined) {
    const bounds = fhirInstantBounds(provision.period.start);
    if (bounds) periodStart = new Date(bounds.start).toISOString();
    else problems.push('provision.period.start is not a FHIR dateTime');
  }
  if (provision.period?.end !== undefined) {
    const bounds = fhirInstantBounds(provision.period.end);
    if (bounds) periodEnd = new Date(bounds.end).toISOString();
    else problems.push('provision.period.end is not a FHIR dateTime');
  }

  const provisionLabels = labelCodes(provision.securityLabel);
  const dateTime = fhirInstantBounds(consent.dateTime);
  return {
    consentId: consent.id,
    patientId,
    organizationIds:
      recipients.length === 0 || (type === 'deny' && unreadableRecipient) ? null : organizationIds,
    custodianOrganizationId: referencedId(consent.organization?.[0], 'Organization') ?? null,
    status: consent.status as ConsentStatus,
    provision: type,
    periodStart,
    periodEnd,
    purposes: [...new Set((provision.purpose ?? []).map((p) => p.code ?? ''))]
      .filter(Boolean)
      .sort(),
    securityLabels: [
      ...new Set([...labelCodes(consent.meta?.security), ...provisionLabels]),
    ].sort(),
    provisionLabels,
    dateTime: dateTime ? new Date(dateTime.start).toISOString() : null,
    problems,
  };
}

/** Active and within its period at `at`. */
export function isInForce(decision: ConsentDecision, at: Date): boolean {
  if (decision.status !== 'active') return false;
  const t = at.getTime();
  if (decision.periodStart !== null && t < Date.parse(decision.periodStart)) return false;
  if (decision.periodEnd !== null && t >= Date.parse(decision.periodEnd)) return false;
  return true;
}

/** Whether a decision's recipients include the organization (null recipients: everyone). */
export const namesRecipient = (decision: ConsentDecision, organizationId: string): boolean =>
  decision.organizationIds === null || decision.organizationIds.includes(organizationId);
