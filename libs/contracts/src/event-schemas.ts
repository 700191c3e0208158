import type { JSONSchemaType } from 'ajv';

/** The data of each event type, one interface per schema; version bumps get a new interface. */
export interface FhirResourceChangedV1 {
  resourceType: string;
  id: string;
  versionId: string;
  action: 'create' | 'update' | 'delete';
  lastUpdated: string;
  /** Organization ids involved (requester, owner, performer…) so consumers can filter cheaply. */
  organizations: string[];
  resource?: Record<string, unknown>;
}

export const REFERRAL_STATES = [
  'requested',
  'awaiting-consent',
  'routed',
  'accepted',
  'rejected',
  'rerouted',
  'in-progress',
  'on-hold',
  'completed',
  'cancelled',
  'failed',
] as const;
export type ReferralState = (typeof REFERRAL_STATES)[number];

export interface ReferralEventV1 {
  referralId: string;
  state: ReferralState;
  occurredAt: string;
  sourceTaskId: string;
  requesterOrganizationId?: string;
  targetOrganizationId?: string;
  cboTaskId?: string;
  patientId?: string;
  reason?: string;
  attempt?: number;
  explanation?: Record<string, unknown>;
}

export interface ConsentEventV1 {
  consentId: string;
  patientId: string;
  /** null: the whole network. */
  organizationId: string | null;
  occurredAt: string;
  periodStart?: string;
  periodEnd?: string;
  securityLabels: string[];
}

export interface FollowupEventV1 {
  referralId: string;
  kind: string;
  occurredAt: string;
  dueAt?: string;
  organizationId?: string;
  detail?: Record<string, unknown>;
}

/**
 * `record` is the directory's own model (libs/directory): an Organization for
 * organization-upserted, a Service for service-upserted and capacity-changed, a Location for
 * location-upserted; consumers keep a local copy for matching.
 */
export interface DirectoryEventV1 {
  organizationId: string;
  occurredAt: string;
  serviceId?: string;
  record: Record<string, unknown>;
}

/** A SMART client disabled (`clients:disable`): services refuse its tokens issued until then. */
export interface ClientDisabledV1 {
  clientId: string;
  organizationId: string;
  disabledAt: string;
}

const isoDateTime = { type: 'string', format: 'date-time' } as const;
const nonEmpty = { type: 'string', minLength: 1 } as const;
const opt = <T extends object>(schema: T) => ({ ...schema, nullable: true as const });

export const fhirResourceChangedSchema: JSONSchemaType<FhirResourceChangedV1> = {
  type: 'object',
  required: ['resourceType', 'id', 'versionId', 'action', 'lastUpdated', 'organizations'],
  additionalProperties: false,
  properties: {
    resourceType: { type: 'string', pattern: '^[A-Z][A-Za-z]+$' },
    id: { type: 'string', pattern: '^[A-Za-z0-9\\-.]{1,64}$' },
    versionId: nonEmpty,
    action: { type: 'string', enum: ['create', 'update', 'delete'] },
    lastUpdated: isoDateTime,
    organizations: { type: 'array', items: nonEmpty },
    resource: { type: 'object', nullable: true, required: [] },
  },
};

export const referralEventSchema: JSONSchemaType<ReferralEventV1> = {
  type: 'object',
  required: ['referralId', 'state', 'occurredAt', 'sourceTaskId'],
  additionalProperties: false,
  properties: {
    referralId: nonEmpty,
    state: { type: 'string', enum: [...REFERRAL_STATES] },
    occurredAt: isoDateTime,
    sourceTaskId: nonEmpty,
    requesterOrganizationId: opt(nonEmpty),
    targetOrganizationId: opt(nonEmpty),
    cboTaskId: opt(nonEmpty),
    patientId: opt(nonEmpty),
    reason: { type: 'string', nullable: true },
    attempt: { type: 'integer', minimum: 0, nullable: true },
    explanation: { type: 'object', nullable: true, required: [] },
  },
};

// Not typed with JSONSchemaType: it cannot express a required property that may be null.
export const consentEventSchema = {
  type: 'object',
  required: ['consentId', 'patientId', 'organizationId', 'occurredAt', 'securityLabels'],
  additionalProperties: false,
  properties: {
    consentId: nonEmpty,
    patientId: nonEmpty,
    organizationId: { type: 'string', minLength: 1, nullable: true },
    occurredAt: isoDateTime,
    periodStart: opt(isoDateTime),
    periodEnd: opt(isoDateTime),
    securityLabels: { type: 'array', items: nonEmpty },
  },
} as const;

export const followupEventSchema: JSONSchemaType<FollowupEventV1> = {
  type: 'object',
  required: ['referralId', 'kind', 'occurredAt'],
  additionalProperties: false,
  properties: {
    referralId: nonEmpty,
    kind: nonEmpty,
    occurredAt: isoDateTime,
    dueAt: opt(isoDateTime),
    organizationId: opt(nonEmpty),
    detail: { type: 'object', nullable: true, required: [] },
  },
};

export const directoryEventSchema: JSONSchemaType<DirectoryEventV1> = {
  type: 'object',
  required: ['organizationId', 'occurredAt', 'record'],
  additionalProperties: false,
  properties: {
    organizationId: nonEmpty,
    occurredAt: isoDateTime,
    serviceId: opt(nonEmpty),
    record: { type: 'object', required: [] },
  },
};

export const clientDisabledSchema: JSONSchemaType<ClientDisabledV1> = {
  type: 'object',
  required: ['clientId', 'organizationId', 'disabledAt'],
  additionalProperties: false,
  properties: {
    clientId: nonEmpty,
    organizationId: nonEmpty,
    disabledAt: isoDateTime,
  },
};
