import type { CapabilityStatement } from '@medplum/fhirtypes';
import {
  buildCapabilityStatement,
  DEFAULT_INCLUDES,
  type ResourceCapability,
  revIncludesFor,
  SUPPORTED_PROFILES,
  SUPPORTED_RESOURCE_TYPES,
  type TypeInteraction,
} from '@carerelay/fhir';
import { SUBSCRIPTION_PROFILE } from './subscriptions/backport';

/** Provided by the Subscriptions module: /metadata lists Subscription only where it is served. */
export const SUBSCRIPTIONS_SERVED = Symbol('SUBSCRIPTIONS_SERVED');

/** The interactions this app implements for every IG resource type (Task: no delete). */
export function resourceCapabilities(): ResourceCapability[] {
  return SUPPORTED_RESOURCE_TYPES.map((type) => {
    const interactions: TypeInteraction[] = [
      'read',
      'vread',
      'create',
      'update',
      'patch',
      'search-type',
      'history-instance',
      'history-type',
    ];
    if (type !== 'Task') interactions.push('delete');
    return {
      type,
      interactions,
      searchInclude: DEFAULT_INCLUDES[type] ?? [],
      // Any stored type may reference this one: _revinclude follows them all.
      searchRevInclude: revIncludesFor(type, SUPPORTED_RESOURCE_TYPES),
      supportedProfile: SUPPORTED_PROFILES[type],
      conditionalCreate: true,
      searchExtras: true,
      versioning: 'versioned-update',
      documentation:
        type === 'Task'
          ? "Update requires If-Match (428 without it, 412 when stale); PATCH takes a JSON Patch (application/json-patch+json) or a FHIRPath Patch (Parameters, application/fhir+json or application/fhir+xml) and follows the same rules. Status transitions and who may make them follow the SDOHCC referral rules; the owner may change only status, statusReason and output. Not deleted: use entered-in-error. A referral Task may name its focus (ServiceRequest) and for (Patient) by absolute URL on an EHR FHIR server registered for the writer's organization (an active Endpoint of it); CareRelay fetches them with that endpoint's credentials and points the Task at its copies, the original kept as each Reference's identifier. Another server: 422."
          : type === 'Endpoint'
            ? "The EHR FHIR servers registered with CareRelay's ehr-connector, one per endpoint (identifier https://carerelay.example/fhir/NamingSystem/ehr-endpoint): written by the platform only, read by the organization that manages them."
            : undefined,
    };
  });
}

/** The AuditEvent search parameters GET /fhir/AuditEvent answers (src/audit/audit-search.ts). */
export const AUDIT_EVENT_SEARCH_PARAMS = [
  '_id',
  'agent',
  'entity',
  'date',
  'action',
  'outcome',
  'subtype',
] as const;

export const SMART_CONFIGURATION = '.well-known/smart-configuration';

/** The Subscriptions Backport (src/subscriptions): what its controller answers. */
export function subscriptionCapability(): ResourceCapability {
  return {
    type: 'Subscription',
    interactions: ['create', 'read', 'delete'],
    versioning: 'no-version',
    conditionalCreate: false,
    supportedProfile: [SUBSCRIPTION_PROFILE],
    operations: [
      {
        name: 'status',
        definition:
          'http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-status',
        documentation:
          'GET Subscription/<id>/$status: a searchset Bundle with its SubscriptionStatus.',
      },
    ],
    documentation:
      'R5 Subscriptions Backport on R4: topic http://hl7.org/fhir/us/sdoh-clinicalcare/SubscriptionTopic/Task, filter criteria on owner, requester, status, code, focus, patient; rest-hook channel; payload empty, id-only or full-resource; a handshake on create; heartbeats. Read, $status and delete (the Subscription is turned off) by the organization that created it.',
  };
}

export function capabilityStatement(
  baseUrl: string,
  options: { tokenUrl?: string; subscriptions?: boolean } = {},
): CapabilityStatement {
  const statement = buildCapabilityStatement({
    baseUrl,
    resources: [
      ...resourceCapabilities(),
      {
        type: 'AuditEvent',
        interactions: ['read', 'search-type'],
        searchParams: AUDIT_EVENT_SEARCH_PARAMS,
        versioning: 'no-version',
        conditionalCreate: false,
        documentation:
          'Written by the server for every read, search and write of patient data; read and searched by coordinators and the platform only (others: 403). agent = Organization/<id> or a client id; date with eq, ne, gt, ge, lt, le; _count (at most 200), _sort=date|-date; pages linked by keyset cursors (_cursor), so events recorded between pages are neither skipped nor repeated; _offset for a first page only.',
      },
      ...(options.subscriptions ? [subscriptionCapability()] : []),
    ],
    systemInteractions: ['transaction', 'batch'],
    software: { name: 'CareRelay FHIR API', version: '0.1.0' },
    publisher: 'CareRelay',
    smartBackendServices: options.tokenUrl ? { tokenUrl: options.tokenUrl } : undefined,
  });
  const rest = statement.rest![0];
  // Update on a new id creates the resource (PUT Type/id): say so. AuditEvents are the server's,
  // Subscriptions have their own routes. Conditional update (PUT Type?criteria) wherever update
  // is; conditional delete one at a time wherever delete is; conditional read wherever read is.
  for (const resource of rest.resource ?? []) {
    const generic = (SUPPORTED_RESOURCE_TYPES as readonly string[]).includes(resource.type);
    resource.updateCreate = generic;
    resource.conditionalUpdate = generic;
    resource.conditionalDelete =
      generic && resource.interaction?.some((i) => i.code === 'delete')
        ? 'single'
        : 'not-supported';
    // If-None-Match and If-Modified-Since on reads (304).
    resource.conditionalRead =
      generic && resource.interaction?.some((i) => i.code === 'read')
        ? 'full-support'
        : 'not-supported';
  }
  if (rest.security) {
    const base = baseUrl.replace(/\/+$/, '');
    rest.security.description =
      `SMART Backend Services: discovery at ${base}/${SMART_CONFIGURATION}; ` +
      'OAuth 2.0 client_credentials with a private_key_jwt assertion (RS384 or ES384) at the token endpoint; ' +
      'system/<Type>.<cruds> (v2) and system/<Type>.read|write (v1) scopes, enforced per interaction and per Bundle entry.';
  }
  return statement;
}
