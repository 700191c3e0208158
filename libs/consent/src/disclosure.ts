import type { Coding, Consent } from '@medplum/fhirtypes';
import {
  ConsentDecision,
  consentDecisionFrom,
  ConsentFormatError,
  isInForce,
  namesRecipient,
} from './consent-decision';
import {
  labelCodes,
  labelsOnDisclosure,
  LABELS_NEEDING_EXPLICIT_CONSENT,
  PART2_LABEL,
} from './security-labels';

export interface DisclosureQuery {
  patientId: string;
  /** The organization that would receive the data. */
  organizationId: string;
  at: Date;
  /** Security label codes of the data (e.g. 42CFRPart2, R). */
  labels?: readonly string[];
  /** The purpose of use (e.g. TREAT); absent: not stated. */
  purpose?: string;
}

export type DisclosureCode =
  | 'permitted'
  | 'denied'
  | 'no-consent'
  | 'not-in-force'
  | 'recipient-not-covered'
  | 'part2-needs-named-recipient'
  | 'labels-not-covered'
  | 'purpose-not-covered'
  | 'not-interpretable';

export interface DisclosureDecision {
  allowed: boolean;
  /** The consent that decided: the permit that allows, or the deny that forbids. */
  consentId?: string;
  code: DisclosureCode;
  reason: string;
}

/**
 * May `organizationId` receive the patient's data (with these labels, for this purpose) at `at`?
 *
 * - Only consents of the patient that are active and within their period count; expired,
 *   not-yet-started, inactive, rejected, draft and entered-in-error consents never allow.
 * - Deny wins: any deny in force that names the organization (or the whole network), whose
 *   provision.securityLabel (if any) matches a label of the data and whose purposes (if any)
 *   include the stated purpose (or no purpose is stated) forbids the disclosure.
 * - A permit allows when it names the organization or the whole network, covers every label of
 *   the data that needs explicit consent (42CFRPart2), lists the purpose when it restricts
 *   purposes, and was fully interpreted.
 * - 42 CFR Part 2 data additionally needs a permit that names the recipient: a network-wide
 *   consent never discloses it.
 */
export function isDisclosureAllowed(
  decisions: readonly ConsentDecision[],
  query: DisclosureQuery,
): DisclosureDecision {
  const labels = [...new Set(query.labels ?? [])];
  const mine = decisions.filter((d) => d.patientId === query.patientId);
  if (mine.length === 0) {
    return refuse('no-consent', `no consent on record for patient ${query.patientId}`);
  }
  const inForce = mine.filter((d) => isInForce(d, query.at));
  if (inForce.length === 0) {
    return refuse('not-in-force', describeNotInForce(mine, query.at));
  }
  const applicable = inForce.filter((d) => namesRecipient(d, query.organizationId));

  const deny = newestFirst(applicable.filter((d) => d.provision === 'deny')).find(
    (d) =>
      (d.provisionLabels.length === 0 || d.provisionLabels.some((l) => labels.includes(l))) &&
      (d.purposes.length === 0 ||
        query.purpose === undefined ||
        d.purposes.includes(query.purpose)),
  );
  if (deny) {
    return {
      allowed: false,
      consentId: deny.consentId,
      code: 'denied',
      reason: `consent ${deny.consentId} denies disclosure to ${deny.organizationIds === null ? 'the whole network' : `organization ${query.organizationId}`}`,
    };
  }

  const permits = applicable.filter((d) => d.provision === 'permit');
  if (permits.length === 0) {
    return refuse(
      'recipient-not-covered',
      `no consent in force permits disclosure to organization ${query.organizationId}`,
    );
  }
  const part2 = labels.includes(PART2_LABEL);
  const needed = labels.filter((l) => LABELS_NEEDING_EXPLICIT_CONSENT.has(l));
  const failures: Array<[DisclosureCode, string]> = [];
  const covering = permits.filter((permit) => {
    if (permit.problems.length > 0) {
      failures.push([
        'not-interpretable',
        `consent ${permit.consentId} could not be fully interpreted: ${permit.problems.join('; ')}`,
      ]);
      return false;
    }
    if (part2 && permit.organizationIds === null) {
      failures.push([
        'part2-needs-named-recipient',
        `42 CFR Part 2 data needs a consent naming organization ${query.organizationId}; consent ${permit.consentId} covers the whole network`,
      ]);
      return false;
    }
    const missing = needed.filter((l) => !permit.securityLabels.includes(l));
    if (missing.length > 0) {
      failures.push([
        'labels-not-covered',
        `consent ${permit.consentId} does not cover data labelled ${missing.join(', ')}`,
      ]);
      return false;
    }
    if (permit.purposes.length > 0 && !permit.purposes.includes(query.purpose ?? '')) {
      failures.push([
        'purpose-not-covered',
        `consent ${permit.consentId} is limited to purposes ${permit.purposes.join(', ')}`,
      ]);
      return false;
    }
    return true;
  });
  if (covering.length === 0) {
    const [code, reason] = failures[failures.length - 1];
    return refuse(code, failures.length === 1 ? reason : failures.map(([, r]) => r).join('; '));
  }
  // The most specific permit decides: a named recipient before the whole network, then the newest.
  const [chosen] = [...newestFirst(covering)].sort(
    (a, b) => Number(a.organizationIds === null) - Number(b.organizationIds === null),
  );
  return {
    allowed: true,
    consentId: chosen.consentId,
    code: 'permitted',
    reason: `consent ${chosen.consentId} permits disclosure to ${chosen.organizationIds === null ? 'the whole network' : `organization ${query.organizationId}`}`,
  };
}

const refuse = (code: DisclosureCode, reason: string): DisclosureDecision => ({
  allowed: false,
  code,
  reason,
});

const newestFirst = (decisions: readonly ConsentDecision[]): ConsentDecision[] =>
  [...decisions].sort(
    (a, b) =>
      (b.dateTime ?? '').localeCompare(a.dateTime ?? '') || a.consentId.localeCompare(b.consentId),
  );

function describeNotInForce(decisions: readonly ConsentDecision[], at: Date): string {
  const t = at.getTime();
  const parts = decisions.map((d) => {
    if (d.status !== 'active') return `consent ${d.consentId} is ${d.status}`;
    if (d.periodEnd !== null && t >= Date.parse(d.periodEnd)) {
      return `consent ${d.consentId} expired at ${d.periodEnd}`;
    }
    return `consent ${d.consentId} starts at ${d.periodStart}`;
  });
  return `no consent in force: ${parts.join('; ')}`;
}

/**
 * The purpose of use of a recipient that states none: care coordination, which v3 PurposeOfUse
 * files under treatment (TREAT). What a CBO reads a referral's patient data for.
 */
export const DEFAULT_PURPOSE_OF_USE = 'TREAT';

/** One resource about a patient, as the disclosure decision needs it. */
export interface DisclosedData {
  patientId: string;
  /** The resource's meta.security. */
  security?: readonly Coding[];
}

export interface Recipient {
  organizationId: string;
  /** The stated purpose of use (v3 PurposeOfUse code). */
  purpose: string;
  at: Date;
}

export interface DataDisclosure extends DisclosureDecision {
  /** The label codes of the data the decision was made on. */
  labels: string[];
  /** What meta.security the recipient is shown when allowed: with NORDSCLCD for Part 2 data. */
  security?: Coding[];
}

/**
 * May the recipient be shown this resource, given the patient's consents: its security labels
 * (meta.security) must each be covered when they need explicit consent, 42 CFR Part 2 data needs
 * a permit naming the recipient, a purpose-limited permit counts only for the stated purpose, and
 * a label-scoped deny withholds only data with that label (isDisclosureAllowed). What is
 * disclosed as Part 2 data carries the prohibition on redisclosure (labelsOnDisclosure).
 */
export function discloseData(
  decisions: readonly ConsentDecision[],
  data: DisclosedData,
  recipient: Recipient,
): DataDisclosure {
  const labels = labelCodes(data.security);
  const answer = isDisclosureAllowed(decisions, {
    patientId: data.patientId,
    organizationId: recipient.organizationId,
    at: recipient.at,
    labels,
    purpose: recipient.purpose,
  });
  return answer.allowed
    ? { ...answer, labels, security: labelsOnDisclosure(data.security) }
    : { ...answer, labels };
}

/** The decisions of stored Consents; one that cannot be read at all decides nothing. */
export function decisionsOf(consents: readonly Consent[]): ConsentDecision[] {
  const decisions: ConsentDecision[] = [];
  for (const consent of consents) {
    try {
      decisions.push(consentDecisionFrom(consent));
    } catch (error) {
      if (!(error instanceof ConsentFormatError)) throw error;
    }
  }
  return decisions;
}
