import { PLANNED_PER_EXECUTION } from '@carerelay/persistence';
import type { Consent, Resource, Task } from '@medplum/fhirtypes';
import {
  consentDecisionFrom,
  ConsentFormatError,
  LABELS_NEEDING_EXPLICIT_CONSENT,
  WHOLE_NETWORK,
} from '@carerelay/consent';
import type { EntityManager } from 'typeorm';
import type { RequestActor } from '../request-actor';
import type { DisclosureGroup } from './disclosure.service';
import { normalizeReference, parseReference } from '@carerelay/fhir';
import { SqlParams } from './sql';
import { visibilityFilter } from './visibility';

/**
 * Consent-gated access of CBOs to a referral's patient data: a CBO sees a patient only for the
 * referrals it was given, and only while the patient's consent allows.
 *
 * Grants: when the platform writes a Task addressed to a CBO (Task.owner), the CBO is granted the
 * Task's Patient, its focus ServiceRequest (the platform's filler-order), the ServiceRequests that
 * one is basedOn (the EHR's source request) and the patient's Consents (also those stored later).
 *
 * Consent: the rules are derived from the stored Consent resources themselves — each Consent write
 * flattens it with libs/consent's consentDecisionFrom into `consent_rules`, in the same
 * transaction — and checked in SQL at read time, with the semantics of libs/consent's
 * grantsInForce (what consent-service announces as consent.granted / revoked / expired): a permit
 * in force (active, within its period, fully interpreted) naming the CBO or the whole network,
 * and no deny in force that stops all disclosure to the CBO or to everyone. Chosen over a
 * consumer of consent.events.v1 because the stored Consents are what consent-service derives its
 * events from: reading them directly is never behind (a revocation takes effect in the very
 * transaction that stores it, an expiry at the instant it ends), needs neither the broker nor
 * consent-service to be up, and has no event-ordering window in which a revoked consent still
 * discloses. This SQL gate knows only whether some consent covers the CBO; the rest of the
 * decision — security labels on the data (42 CFR Part 2, PSY, R, …), purpose-limited permits,
 * label- and purpose-scoped denies — is libs/consent's discloseData, applied to each row a CBO is
 * given (disclosure.service.ts).
 *
 * What a CBO sees without a covering consent: its own Task, redacted (see redactTask); 404 for
 * every other resource about the patient (Patient, ServiceRequest, Consent, Procedure, …),
 * whatever made it visible (owner, a reference to the CBO, a grant), through read, vread,
 * search, _include, _revinclude and _history alike.
 */

/** Directory and definitional types: no patient data, readable by every client. */
export const SHARED_TYPES = ['Organization', 'HealthcareService', 'Location', 'Questionnaire'];

const PATIENT_ELEMENTS = ['patient', 'subject', 'for', 'beneficiary'];

/** The Patient a resource is about: its own id for a Patient, else subject/patient/for/beneficiary. */
export function patientIdOf(resource: Resource, localBaseUrls: readonly string[]): string | null {
  if (resource.resourceType === 'Patient') return resource.id ?? null;
  const record = resource as unknown as Record<string, unknown>;
  for (const element of PATIENT_ELEMENTS) {
    const value = record[element] as { reference?: string } | undefined;
    const normalized = normalizeReference(value?.reference, localBaseUrls);
    const parsed = normalized ? parseReference(normalized) : undefined;
    if (parsed?.kind === 'relative' && parsed.resourceType === 'Patient') return parsed.id;
  }
  return null;
}

export interface ConsentRuleRow {
  consent_id: string;
  organization_key: string;
  patient_id: string;
  kind: 'permit' | 'deny';
  active: boolean;
  period_start: string | null;
  period_end: string | null;
  usable: boolean;
  full_deny: boolean;
}

/** A stored Consent as rows of consent_rules (none when it cannot be interpreted at all). */
export function consentRuleRows(consent: Consent): ConsentRuleRow[] {
  let decision;
  try {
    decision = consentDecisionFrom(consent);
  } catch (error) {
    if (error instanceof ConsentFormatError) return [];
    throw error;
  }
  const keys = decision.organizationIds === null ? [WHOLE_NETWORK] : decision.organizationIds;
  return keys.map((key) => ({
    consent_id: decision.consentId,
    organization_key: key,
    patient_id: decision.patientId,
    kind: decision.provision,
    active: decision.status === 'active',
    period_start: decision.periodStart,
    period_end: decision.periodEnd,
    usable: decision.problems.length === 0,
    full_deny: decision.provisionLabels.length === 0 && decision.purposes.length === 0,
  }));
}

/**
 * SQL: may organization `org` (a parameter) receive data about patient `patient` (an SQL
 * expression) now? The grantsInForce rule over consent_rules.
 */
export function coveredSql(schema: string, patient: string, org: string): string {
  const inForce = (c: string) =>
    `${c}.patient_id = ${patient} AND ${c}.active AND (${c}.organization_key = ${org} OR ${c}.organization_key = '${WHOLE_NETWORK}')
     AND (${c}.period_start IS NULL OR ${c}.period_start <= now()) AND (${c}.period_end IS NULL OR ${c}.period_end > now())`;
  return `(EXISTS (SELECT 1 FROM "${schema}".consent_rules cp WHERE ${inForce('cp')} AND cp.kind = 'permit' AND cp.usable)
    AND NOT EXISTS (SELECT 1 FROM "${schema}".consent_rules cd WHERE ${inForce('cd')} AND cd.kind = 'deny' AND cd.full_deny))`;
}

/**
 * SQL: the distinct meta.security codes of the row aliased `alias` (a `resources` or
 * `resource_history` row), sorted, as text[]: what the consent decision reads of a resource, for
 * counting without loading it.
 */
export const securityCodesSql = (alias: string): string =>
  `COALESCE((SELECT array_agg(DISTINCT s->>'code' ORDER BY s->>'code') FROM jsonb_array_elements(
     CASE WHEN jsonb_typeof(${alias}.content->'meta'->'security') = 'array'
       THEN ${alias}.content->'meta'->'security' ELSE '[]'::jsonb END) s
     WHERE s->>'code' IS NOT NULL), '{}'::text[])`;

/**
 * Counts the rows of `from` (a `FROM … WHERE …` over the row aliased `alias`, with its parameters)
 * grouped as the consent decision sees them: by type, patient (`patientSql`) and security labels.
 * How a CBO's search and history totals count only what it is shown, without loading the rows.
 */
export async function disclosureGroups(
  manager: EntityManager,
  from: string,
  values: unknown[],
  alias: string,
  patientSql: string,
): Promise<DisclosureGroup[]> {
  const rows: Array<{
    resource_type: string;
    patient_id: string | null;
    labels: string[];
    n: number;
  }> = await manager.query(
    `${PLANNED_PER_EXECUTION}SELECT ${alias}.resource_type, ${patientSql} AS patient_id, ${securityCodesSql(alias)} AS labels,
       count(*)::int AS n ${from} GROUP BY 1, 2, 3`,
    values,
  );
  return rows.map((row) => ({
    resourceType: row.resource_type,
    patientId: row.patient_id,
    labels: row.labels,
    count: row.n,
  }));
}

/**
 * Search parameters of a Task that index only the elements a CBO sees of a redacted Task
 * (TASK_WORKFLOW_ELEMENTS). A search, conditional create or subscription filter on any other
 * parameter (patient, subject, business-status, description, …) matches on what redaction hides:
 * it must not match a Task whose patient the CBO may not see, or its answer (a count, a
 * notification) tells the CBO which patient the Task is about.
 */
export const TASK_WORKFLOW_SEARCH_PARAMS: ReadonlySet<string> = new Set([
  '_id',
  '_lastUpdated',
  '_tag',
  '_profile',
  '_security',
  'identifier',
  'based-on',
  'group-identifier',
  'part-of',
  'status',
  'intent',
  'priority',
  'code',
  'focus',
  'authored-on',
  'modified',
  'requester',
  'owner',
]);

/** The levels below a chain, as matchesOnPatientData reads them. */
interface LinkedLevel {
  param: string;
  kind?: string;
  targetTypes?: readonly string[];
  chained?: LinkedLevel;
}

/** A chain whose every level goes to directory resources only (no `_has` below it). */
function onlyThroughDirectory(level: LinkedLevel | undefined): boolean {
  if (level?.kind === 'has') return false;
  if (level?.kind !== 'chain') return true;
  return (
    (level.targetTypes ?? []).every((t) => SHARED_TYPES.includes(t)) &&
    onlyThroughDirectory(level.chained)
  );
}

/**
 * Does a search on these parameters look at elements that redaction hides? A chain does unless
 * every level of it only goes to directory resources: what it matches is the referenced
 * resources' data. A `_has` always does (`_has` is no Task workflow parameter): it matches on
 * what other resources hold about the searched one.
 */
export function matchesOnPatientData(filters: readonly LinkedLevel[]): boolean {
  return filters.some(
    (f) =>
      !TASK_WORKFLOW_SEARCH_PARAMS.has(f.param) || (f.kind === 'chain' && !onlyThroughDirectory(f)),
  );
}

export interface ReadableOptions {
  /** The rows are matched by search parameters on patient data (matchesOnPatientData). */
  matchedOnPatientData?: boolean;
}

/**
 * THE read rule of the store, in SQL (every read, vread, search, _include, _revinclude, _history
 * and conditional-create lookup goes through it; StoreTransaction.disclose is the same decision
 * for one row, adding the redaction): the organization rule (visibility.ts), directory types for
 * everyone, for a referring EHR the outcome of its referrals (StoreTransaction.grantReferrers),
 * and for a CBO the grants of the referrals addressed to it — with every resource about a patient
 * other than its Task hidden while no consent covers the disclosure to the CBO, and the Task too
 * when the rows are matched on patient data.
 */
export function readableFilter(
  actor: RequestActor,
  alias: string,
  params: SqlParams,
  schema: string,
  options: ReadableOptions = {},
): string {
  const byOrganization = visibilityFilter(actor, alias, params);
  if (byOrganization === 'TRUE') return 'TRUE';
  const shared = `${alias}.resource_type = ANY('{${SHARED_TYPES.join(',')}}'::text[])`;
  if (actor.role !== 'cbo' && actor.role !== 'ehr') return `(${byOrganization} OR ${shared})`;
  const org = params.add(actor.organizationId);
  const granted = `EXISTS (SELECT 1 FROM "${schema}".access_grants g
    WHERE g.organization_id = ${org} AND g.resource_type = ${alias}.resource_type AND g.resource_id = ${alias}.id)`;
  // A referring EHR's grants are the outcome of its own referrals: no consent gate.
  if (actor.role === 'ehr') return `(${byOrganization} OR ${shared} OR ${granted})`;
  const redactable = options.matchedOnPatientData ? '' : `${alias}.resource_type = 'Task' OR `;
  const consented = `(${redactable}${alias}.patient_id IS NULL OR ${coveredSql(schema, `${alias}.patient_id`, org)})`;
  return `(${shared} OR ((${byOrganization} OR ${granted}) AND ${consented}))`;
}

export const DATA_ABSENT_REASON = 'http://hl7.org/fhir/StructureDefinition/data-absent-reason';
export const AWAITING_CONSENT = 'awaiting consent';
const REDACTED = {
  system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue',
  code: 'REDACTED',
  display: 'redacted',
};

/** The elements of a Task a CBO sees without consent: workflow, not patient data. */
const TASK_WORKFLOW_ELEMENTS = [
  'resourceType',
  'id',
  'meta',
  'identifier',
  'basedOn',
  'groupIdentifier',
  'partOf',
  'status',
  'statusReason',
  'intent',
  'priority',
  'code',
  'focus',
  'authoredOn',
  'lastModified',
  'requester',
  'owner',
  'output',
];

const withoutDisplay = <T extends { display?: string }>(ref: T | undefined): T | undefined => {
  if (!ref) return ref;
  const { display: _d, ...rest } = ref;
  return rest as T;
};

/**
 * A referral Task as a CBO without a covering consent sees it: `businessStatus.text` "awaiting
 * consent", `for` replaced by a data-absent-reason `masked` (a Reference with only that
 * extension: the element stays, as the IG requires it, but says nothing), every element that may
 * carry patient data (text, description, note, input, reason, encounter, …) omitted, reference
 * displays dropped, and meta.security REDACTED (without the labels that need explicit consent).
 */
export function redactTask(task: Task): Task {
  const record = task as unknown as Record<string, unknown>;
  const kept: Record<string, unknown> = {};
  for (const key of TASK_WORKFLOW_ELEMENTS) if (record[key] !== undefined) kept[key] = record[key];
  const redacted = kept as unknown as Task;
  redacted.focus = withoutDisplay(task.focus);
  redacted.requester = withoutDisplay(task.requester);
  redacted.owner = withoutDisplay(task.owner);
  redacted.for = { extension: [{ url: DATA_ABSENT_REASON, valueCode: 'masked' }] };
  redacted.businessStatus = { text: AWAITING_CONSENT };
  // A sensitivity label left on it would tell what kind of data it hides (e.g. 42CFRPart2: SUD).
  const security = (task.meta?.security ?? []).filter(
    (label) => !LABELS_NEEDING_EXPLICIT_CONSENT.has(label.code ?? ''),
  );
  redacted.meta = { ...task.meta, security: [...security, REDACTED] };
  return redacted;
}

/**
 * What an uncovered CBO's Task update means: the only elements it may change (status,
 * statusReason, output) taken from what it sent, everything else kept as stored — it never saw
 * the redacted elements, so it cannot be asked to send them back.
 */
export function unredactTaskUpdate(stored: Task, sent: Task): Task {
  const next: Task = { ...stored, status: sent.status, meta: stored.meta };
  if (sent.statusReason !== undefined) next.statusReason = sent.statusReason;
  else delete next.statusReason;
  if (sent.output !== undefined) next.output = sent.output;
  else delete next.output;
  return next;
}
