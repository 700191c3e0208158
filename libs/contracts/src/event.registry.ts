import Ajv, { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import {
  ClientDisabledV1,
  clientDisabledSchema,
  ConsentEventV1,
  DirectoryEventV1,
  FhirResourceChangedV1,
  FollowupEventV1,
  REFERRAL_STATES,
  ReferralEventV1,
  consentEventSchema,
  directoryEventSchema,
  fhirResourceChangedSchema,
  followupEventSchema,
  referralEventSchema,
} from './event-schemas';
import { TOPICS } from './topics';

export interface EventTypeDefinition<T = unknown> {
  /** CloudEvents `type`, e.g. org.carerelay.referral.routed.v1 */
  readonly type: string;
  readonly topic: string;
  readonly version: number;
  readonly schema: object;
  /** The Kafka record key: events that must stay in order share it. */
  readonly keyOf: (data: T) => string;
}

export const eventType = (domain: string, name: string, version = 1): string =>
  `org.carerelay.${domain}.${name}.v${version}`;

function define<T>(
  domain: string,
  name: string,
  topic: string,
  schema: object,
  keyOf: (data: T) => string,
): EventTypeDefinition<T> {
  return { type: eventType(domain, name), topic, version: 1, schema, keyOf };
}

export const EventTypes = {
  fhirResourceChanged: define<FhirResourceChangedV1>(
    'fhir',
    'resource-changed',
    TOPICS.fhirChanges.name,
    fhirResourceChangedSchema,
    (data) => `${data.resourceType}/${data.id}`,
  ),
  consentGranted: define<ConsentEventV1>(
    'consent',
    'granted',
    TOPICS.consentEvents.name,
    consentEventSchema,
    (d) => d.patientId,
  ),
  consentRevoked: define<ConsentEventV1>(
    'consent',
    'revoked',
    TOPICS.consentEvents.name,
    consentEventSchema,
    (d) => d.patientId,
  ),
  consentExpired: define<ConsentEventV1>(
    'consent',
    'expired',
    TOPICS.consentEvents.name,
    consentEventSchema,
    (d) => d.patientId,
  ),
  followupDue: define<FollowupEventV1>(
    'followup',
    'due',
    TOPICS.followupEvents.name,
    followupEventSchema,
    (d) => d.referralId,
  ),
  followupBreached: define<FollowupEventV1>(
    'followup',
    'breached',
    TOPICS.followupEvents.name,
    followupEventSchema,
    (d) => d.referralId,
  ),
  followupRecorded: define<FollowupEventV1>(
    'followup',
    'recorded',
    TOPICS.followupEvents.name,
    followupEventSchema,
    (d) => d.referralId,
  ),
  directoryOrganizationUpserted: define<DirectoryEventV1>(
    'directory',
    'organization-upserted',
    TOPICS.directoryEvents.name,
    directoryEventSchema,
    (d) => d.organizationId,
  ),
  directoryServiceUpserted: define<DirectoryEventV1>(
    'directory',
    'service-upserted',
    TOPICS.directoryEvents.name,
    directoryEventSchema,
    (d) => d.organizationId,
  ),
  directoryLocationUpserted: define<DirectoryEventV1>(
    'directory',
    'location-upserted',
    TOPICS.directoryEvents.name,
    directoryEventSchema,
    (d) => d.organizationId,
  ),
  directoryCapacityChanged: define<DirectoryEventV1>(
    'directory',
    'capacity-changed',
    TOPICS.directoryEvents.name,
    directoryEventSchema,
    (d) => d.organizationId,
  ),
  clientDisabled: define<ClientDisabledV1>(
    'auth',
    'client-disabled',
    TOPICS.authClients.name,
    clientDisabledSchema,
    (d) => d.clientId,
  ),
} as const;

/** One event type per referral state: org.carerelay.referral.<state>.v1, keyed by referral id. */
export const ReferralEventTypes = Object.fromEntries(
  REFERRAL_STATES.map((state) => [
    state,
    define<ReferralEventV1>(
      'referral',
      state,
      TOPICS.referralEvents.name,
      referralEventSchema,
      (d) => d.referralId,
    ),
  ]),
) as Record<(typeof REFERRAL_STATES)[number], EventTypeDefinition<ReferralEventV1>>;

export class EventSchemaError extends Error {
  override name = 'EventSchemaError';
  constructor(
    readonly eventType: string,
    readonly problems: string[],
  ) {
    super(`event ${eventType} does not match its schema: ${problems.join('; ')}`);
  }
}

export class EventRegistry {
  private readonly definitions = new Map<string, EventTypeDefinition>();
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly ajv = addFormats(new Ajv({ allErrors: true, strict: true }));

  constructor(definitions: EventTypeDefinition[]) {
    for (const definition of definitions) this.register(definition);
  }

  register(definition: EventTypeDefinition): void {
    if (this.definitions.has(definition.type))
      throw new Error(`duplicate event type ${definition.type}`);
    this.definitions.set(definition.type, definition);
    this.validators.set(definition.type, this.ajv.compile(definition.schema));
  }

  get(type: string): EventTypeDefinition {
    const definition = this.definitions.get(type);
    if (!definition) throw new EventSchemaError(type, ['unknown event type']);
    return definition;
  }

  has(type: string): boolean {
    return this.definitions.has(type);
  }

  types(): string[] {
    return [...this.definitions.keys()];
  }

  /** Throws EventSchemaError naming every problem; used on produce and on consume. */
  validate(type: string, data: unknown): void {
    this.get(type);
    const validator = this.validators.get(type)!;
    if (!validator(data)) {
      const problems = (validator.errors ?? []).map(
        (error) => `${error.instancePath || '/'} ${error.message ?? 'is invalid'}`,
      );
      throw new EventSchemaError(type, problems);
    }
  }
}

/** The registry of every CareRelay event type. */
export const eventRegistry = new EventRegistry([
  ...Object.values(EventTypes),
  ...Object.values(ReferralEventTypes),
] as EventTypeDefinition[]);
