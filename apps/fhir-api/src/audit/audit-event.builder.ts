import { randomUUID } from 'node:crypto';
import type { AuditEvent, AuditEventEntity } from '@medplum/fhirtypes';
import type { RequestActor } from '../request-actor';

/**
 * FHIR R4 AuditEvents for the RESTful interactions of the FHIR API, so that every disclosure can be traced: who (the
 * client and its organization), what (the resources, or the search query), when, the outcome.
 */

export type AuditAction = 'C' | 'R' | 'U' | 'D' | 'E';
/** R4 audit-event-outcome: 0 success, 4 minor failure (4xx), 8 serious failure (5xx), 12 major failure. */
export type AuditOutcome = 0 | 4 | 8 | 12;

/** R4 restful-interaction codes used as AuditEvent.subtype. */
export type AuditSubtype =
  | 'read'
  | 'vread'
  | 'update'
  | 'patch'
  | 'delete'
  | 'history'
  | 'history-instance'
  | 'history-type'
  | 'history-system'
  | 'create'
  | 'search'
  | 'search-type'
  | 'search-system'
  | 'capabilities'
  | 'transaction'
  | 'batch'
  | 'operation';

const ACTION_OF: Readonly<Record<AuditSubtype, AuditAction>> = {
  read: 'R',
  vread: 'R',
  history: 'R',
  'history-instance': 'R',
  'history-type': 'R',
  'history-system': 'R',
  search: 'E',
  'search-type': 'E',
  'search-system': 'E',
  capabilities: 'R',
  create: 'C',
  update: 'U',
  patch: 'U',
  delete: 'D',
  transaction: 'E',
  batch: 'E',
  operation: 'E',
};

/** The usual action of an interaction (search → E "execute", as R4's examples do). */
export const actionOf = (subtype: AuditSubtype): AuditAction => ACTION_OF[subtype];

export const CLIENT_ID_SYSTEM = 'urn:carerelay:client-id';
/** The username of a person signed in to a trusted web app (X-On-Behalf-Of). */
export const WEB_USER_SYSTEM = 'urn:carerelay:web-user';
export const AUDIT_SOURCE_OBSERVER = 'CareRelay fhir-api';

export interface AuditRecordInput {
  actor: RequestActor;
  /** Defaults to actionOf(subtype). */
  action?: AuditAction;
  subtype: AuditSubtype;
  /** The type acted on (for searches and creates without id). */
  resourceType?: string;
  /** Ids (`123`, with resourceType) or references (`Task/123`, `Task/123/_history/2`) concerned. */
  ids?: readonly string[];
  outcome: AuditOutcome;
  /** Why it failed (no PHI: a diagnostics line such as "not found"). */
  outcomeDesc?: string;
  /** The search query string (`status=requested&_lastUpdated=gt...`). */
  query?: string;
  at?: Date;
  /** Kept as AuditEvent.id; generated when omitted. */
  id?: string;
  /** The consent decisions the interaction made (a CBO's reads): an entity detail each. */
  consentDecisions?: readonly ConsentDecisionRecord[];
}

/** One consent decision on one resource version (see the fhir-api store's Disclosure). */
export interface ConsentDecisionRecord {
  /** `Type/id/_history/n`. */
  reference: string;
  shown: 'disclosed' | 'redacted' | 'withheld';
  /** libs/consent's DisclosureCode (permitted, labels-not-covered, purpose-not-covered, …). */
  code: string;
  consentId?: string;
  labels: readonly string[];
}

/** AuditEvent.entity.detail type of a consent decision. */
export const CONSENT_DECISION_DETAIL = 'consent-decision';

const describeDecision = (d: ConsentDecisionRecord): string =>
  `${d.shown} (${d.code}${d.consentId ? `, Consent/${d.consentId}` : ''})`;

/**
 * What the outcome description adds for resources the consent decision withheld: the client got
 * a 404 or a Bundle without them and no reason; the audit trail keeps it.
 */
export function withheldSummary(
  decisions: readonly ConsentDecisionRecord[] = [],
): string | undefined {
  const withheld = decisions.filter((d) => d.shown === 'withheld');
  if (withheld.length === 0) return undefined;
  return `consent decision withheld ${withheld
    .map(
      (d) =>
        `${d.reference.replace(/\/_history\/.*$/, '')} (${d.code}${d.consentId ? `, Consent/${d.consentId}` : ''})`,
    )
    .join('; ')}`;
}

/** Outcome of an HTTP status: 2xx/3xx → 0, 4xx → 4, 5xx → 8. */
export function outcomeOfStatus(status: number): AuditOutcome {
  if (status < 400) return 0;
  if (status < 500) return 4;
  return 8;
}

const REFERENCE = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(\/_history\/([A-Za-z0-9\-.]{1,64}))?$/;

/** `Task/1`, or `1` with resourceType Task, as a relative reference; undefined when neither. */
export function referenceOf(idOrReference: string, resourceType?: string): string | undefined {
  if (REFERENCE.test(idOrReference)) return idOrReference;
  if (resourceType && /^[A-Za-z0-9\-.]{1,64}$/.test(idOrReference))
    return `${resourceType}/${idOrReference}`;
  return undefined;
}

/** The AuditEvent's entity references (`Type/id`, without _history), for indexing and search. */
export function entityReferences(
  input: Pick<AuditRecordInput, 'ids' | 'resourceType' | 'consentDecisions'>,
): string[] {
  const refs = new Set<string>();
  for (const id of [
    ...(input.ids ?? []),
    ...(input.consentDecisions ?? []).map((d) => d.reference),
  ]) {
    const ref = referenceOf(id, input.resourceType);
    if (ref) refs.add(ref.replace(/\/_history\/.*$/, ''));
  }
  return [...refs];
}

const SYSTEM_OBJECT = {
  system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
  code: '2',
  display: 'System Object',
};

/** An entity for one resource (a System Object in the Domain Resource role). */
const resourceEntity = (reference: string): AuditEventEntity => ({
  what: { reference },
  type: SYSTEM_OBJECT,
  role: {
    system: 'http://terminology.hl7.org/CodeSystem/object-role',
    code: '4',
    display: 'Domain Resource',
  },
});

export function buildAuditEvent(input: AuditRecordInput): AuditEvent {
  const at = input.at ?? new Date();
  const outcomeDesc = [input.outcomeDesc, withheldSummary(input.consentDecisions)]
    .filter(Boolean)
    .join('; ');
  const entities: AuditEventEntity[] = [];
  for (const id of input.ids ?? []) {
    const reference = referenceOf(id, input.resourceType);
    if (!reference) continue;
    entities.push(resourceEntity(reference));
  }
  const bare = (ref: string) => ref.replace(/\/_history\/.*$/, '');
  for (const decision of input.consentDecisions ?? []) {
    const detail = {
      type: CONSENT_DECISION_DETAIL,
      valueString: describeDecision(decision),
    };
    const securityLabel = decision.labels.map((code) => ({ code }));
    let entity = entities.find(
      (e) => e.what?.reference && bare(e.what.reference) === bare(decision.reference),
    );
    if (!entity) {
      entity = resourceEntity(decision.reference);
      entities.push(entity);
    }
    entity.detail = [...(entity.detail ?? []), detail];
    if (securityLabel.length > 0) entity.securityLabel = securityLabel;
  }
  if (input.query !== undefined || (entities.length === 0 && input.resourceType)) {
    entities.push({
      type: SYSTEM_OBJECT,
      role: {
        system: 'http://terminology.hl7.org/CodeSystem/object-role',
        code: '24',
        display: 'Query',
      },
      description: input.resourceType,
      ...(input.query !== undefined
        ? { query: Buffer.from(input.query, 'utf8').toString('base64') }
        : {}),
    });
  }
  const event: AuditEvent = {
    resourceType: 'AuditEvent',
    id: input.id ?? randomUUID(),
    type: {
      system: 'http://terminology.hl7.org/CodeSystem/audit-event-type',
      code: 'rest',
      display: 'RESTful Operation',
    },
    subtype: [
      {
        system: 'http://hl7.org/fhir/restful-interaction',
        code: input.subtype,
        display: input.subtype,
      },
    ],
    action: input.action ?? actionOf(input.subtype),
    recorded: at.toISOString(),
    outcome: String(input.outcome) as AuditEvent['outcome'],
    ...(outcomeDesc ? { outcomeDesc: outcomeDesc.slice(0, 500) } : {}),
    agent: [
      {
        type: {
          coding: [
            {
              system: 'http://dicom.nema.org/resources/ontology/DCM',
              code: '110150',
              display: 'Application',
            },
          ],
        },
        who: {
          identifier: { system: CLIENT_ID_SYSTEM, value: input.actor.clientId },
          display: input.actor.role,
        },
        requestor: true,
        // What the token was issued for: what the consent decisions of its reads were made for.
        ...(input.actor.purposeOfUse
          ? {
              purposeOfUse: [
                {
                  coding: [
                    {
                      system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason',
                      code: input.actor.purposeOfUse,
                    },
                  ],
                },
              ],
            }
          : {}),
      },
      {
        type: {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/v3-RoleClass',
              code: 'PROV',
              display: 'healthcare provider',
            },
          ],
        },
        who: { reference: `Organization/${input.actor.organizationId}` },
        requestor: false,
      },
      // The person a trusted web app acted for: the audit trail names them, not only the app.
      ...(input.actor.onBehalfOf
        ? [
            {
              type: {
                coding: [
                  {
                    system: 'http://terminology.hl7.org/CodeSystem/extra-security-role-type',
                    code: 'humanuser',
                    display: 'human user',
                  },
                ],
              },
              who: {
                identifier: { system: WEB_USER_SYSTEM, value: input.actor.onBehalfOf },
                display: input.actor.onBehalfOf,
              },
              requestor: true,
            },
          ]
        : []),
    ],
    source: {
      observer: { display: AUDIT_SOURCE_OBSERVER },
      type: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/security-source-type',
          code: '4',
          display: 'Application Server',
        },
      ],
    },
    ...(entities.length > 0 ? { entity: entities } : {}),
  };
  return event;
}
