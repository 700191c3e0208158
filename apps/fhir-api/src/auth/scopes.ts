import { splitScopes } from '@carerelay/auth';
import { SUPPORTED_RESOURCE_TYPES as IG_RESOURCE_TYPES } from '@carerelay/fhir';
import type { ActorRole } from './request-actor';

/**
 * SMART on FHIR system scopes (Backend Services), v2 and v1 syntax.
 *
 *  - v2: `system/<Type|*>.<permissions>` where permissions are letters of `cruds`, in that order
 *    (`system/Task.cruds`, `system/*.rs`, `system/Procedure.cu`).
 *  - v1: `system/<Type|*>.read|write|*` where read = r+s, write = c+u+d, * = everything.
 *
 * Anything else (patient/ and user/ scopes, granular v2 scopes with `?query`, openid, ...) is not
 * understood and never grants anything.
 */

export type Permission = 'c' | 'r' | 'u' | 'd' | 's';

export type Interaction =
  | 'read'
  | 'vread'
  | 'history'
  | 'history-type'
  | 'search'
  | 'create'
  | 'update'
  | 'patch'
  | 'delete';

/** Which permission letter each interaction needs (SMART v2 "Scopes for requesting FHIR resources"). */
export const INTERACTION_PERMISSION: Readonly<Record<Interaction, Permission>> = {
  read: 'r',
  vread: 'r',
  history: 'r', // instance history
  'history-type': 's', // type or system history is a kind of search
  search: 's',
  create: 'c',
  update: 'u',
  patch: 'u',
  delete: 'd',
};

export const INTERACTIONS = Object.keys(INTERACTION_PERMISSION) as Interaction[];

const ORDER: readonly Permission[] = ['c', 'r', 'u', 'd', 's'];
const V1: Readonly<Record<string, readonly Permission[]>> = {
  read: ['r', 's'],
  write: ['c', 'u', 'd'],
  '*': ORDER,
};

/** The resource types this server serves (the IG's Coordination Platform list plus AuditEvent and Subscription). */
export const SUPPORTED_RESOURCE_TYPES: readonly string[] = [
  ...IG_RESOURCE_TYPES,
  'AuditEvent',
  'Subscription',
];

export interface ParsedScope {
  raw: string;
  /** A resource type or `*`. */
  resourceType: string;
  permissions: ReadonlySet<Permission>;
  version: 1 | 2;
}

const SCOPE = /^system\/(\*|[A-Z][A-Za-z]{0,63})\.([a-z*]+)$/;
const V2_PERMISSIONS = /^c?r?u?d?s?$/;

/** Parses one scope; null when it is not a system scope this server understands. */
export function parseScope(raw: string): ParsedScope | null {
  const match = SCOPE.exec(raw);
  if (!match) return null;
  const [, resourceType, suffix] = match;
  const v1 = V1[suffix];
  if (v1) return { raw, resourceType, permissions: new Set(v1), version: 1 };
  if (suffix.length === 0 || !V2_PERMISSIONS.test(suffix)) return null;
  return { raw, resourceType, permissions: new Set(suffix.split('') as Permission[]), version: 2 };
}

export { splitScopes };

/** `cruds` order, e.g. {s, r} → "rs". */
export function permissionString(permissions: Iterable<Permission>): string {
  const set = new Set(permissions);
  return ORDER.filter((p) => set.has(p)).join('');
}

/** True when one of `scopes` allows `interaction` on `resourceType`. */
export function scopeAllows(
  scopes: readonly string[],
  resourceType: string,
  interaction: Interaction,
): boolean {
  const needed = INTERACTION_PERMISSION[interaction];
  if (!needed) return false;
  return scopes.some((raw) => {
    const scope = parseScope(raw);
    return (
      scope !== null &&
      (scope.resourceType === '*' || scope.resourceType === resourceType) &&
      scope.permissions.has(needed)
    );
  });
}

/** The scope a client would need for an interaction, in v2 syntax (for error messages). */
export function requiredScope(resourceType: string, interaction: Interaction): string {
  return `system/${resourceType}.${INTERACTION_PERMISSION[interaction]}`;
}

// ---------------------------------------------------------------------------------------------
// What each role may be granted

interface RolePolicy {
  /** Permissions on every supported type not listed in `types`. */
  base: string;
  types: Readonly<Record<string, string>>;
}

const EHR_WRITES = [
  'Patient',
  'ServiceRequest',
  'Task',
  'Consent',
  'Condition',
  'Goal',
  'Observation',
  'QuestionnaireResponse',
  'DocumentReference',
  'Practitioner',
  'PractitionerRole',
  'RelatedPerson',
  'Group',
  'CareTeam',
  'Coverage',
  'Device',
  'Subscription',
];

/**
 * The ceiling of what a client of each role may be granted.
 *
 *  - ehr: read and write the resources a referral is made of (Coverage and Device included); read
 *    Procedure (outcomes), Questionnaire and the directory (Organization, HealthcareService,
 *    Location), and the Endpoints registered for its organization; no AuditEvent.
 *  - cbo: read and search everything but AuditEvent and Endpoint; update Task (status, statusReason, output —
 *    the field rules are the store's); create/update Procedure, Observation, DocumentReference,
 *    QuestionnaireResponse (the outcome of the work); manage its own Subscriptions.
 *  - coordinator: read and search everything, AuditEvent included; no writes.
 *  - platform (CareRelay's own services): everything, but AuditEvent is read-only over REST
 *    (AuditEvents are written by the server itself).
 */
export const ROLE_POLICIES: Readonly<Record<ActorRole, RolePolicy>> = {
  ehr: {
    base: '',
    types: {
      ...Object.fromEntries(EHR_WRITES.map((type) => [type, 'cruds'])),
      Procedure: 'rs',
      Organization: 'rs',
      HealthcareService: 'rs',
      Location: 'rs',
      Questionnaire: 'rs',
      Endpoint: 'rs',
    },
  },
  cbo: {
    base: 'rs',
    types: {
      AuditEvent: '',
      Endpoint: '',
      Task: 'rus',
      Procedure: 'crus',
      Observation: 'crus',
      DocumentReference: 'crus',
      QuestionnaireResponse: 'crus',
      Subscription: 'cruds',
    },
  },
  coordinator: { base: 'rs', types: {} },
  platform: { base: 'cruds', types: { AuditEvent: 'rs' } },
};

/** What `role` may ever do on `resourceType` (empty for unsupported types). */
export function rolePermissions(role: ActorRole, resourceType: string): ReadonlySet<Permission> {
  const policy = ROLE_POLICIES[role];
  if (!policy || !SUPPORTED_RESOURCE_TYPES.includes(resourceType)) return new Set();
  const letters = policy.types[resourceType] ?? policy.base;
  return new Set(letters.split('') as Permission[]);
}

export function roleAllows(
  role: ActorRole,
  resourceType: string,
  interaction: Interaction,
): boolean {
  return rolePermissions(role, resourceType).has(INTERACTION_PERMISSION[interaction]);
}

export interface ScopeGrant {
  /** The granted scopes: requested ones kept verbatim when fully allowed, else narrowed (v2 syntax). */
  granted: string[];
  /** Requested scopes that granted nothing at all. */
  dropped: string[];
}

/**
 * granted = requested ∩ allowed for the role. A requested scope the role fully allows is granted
 * as written; one it partly allows is narrowed per resource type to v2 scopes
 * (`system/*.cruds` for a cbo → `system/Task.rus`, `system/Patient.rs`, ...); one it does not
 * allow at all (or does not understand) is dropped.
 */
export function grantScopes(requested: string | readonly string[], role: ActorRole): ScopeGrant {
  const granted: string[] = [];
  const dropped: string[] = [];
  const partial = new Map<string, Set<Permission>>();

  for (const raw of splitScopes(requested)) {
    const scope = parseScope(raw);
    if (!scope) {
      dropped.push(raw);
      continue;
    }
    const types =
      scope.resourceType === '*'
        ? SUPPORTED_RESOURCE_TYPES
        : SUPPORTED_RESOURCE_TYPES.filter((t) => t === scope.resourceType);
    const allowedPerType = types.map((type) => {
      const allowed = rolePermissions(role, type);
      return { type, perms: [...scope.permissions].filter((p) => allowed.has(p)) };
    });
    const whole =
      types.length > 0 && allowedPerType.every((a) => a.perms.length === scope.permissions.size);
    if (whole) {
      granted.push(raw);
      continue;
    }
    let any = false;
    for (const { type, perms } of allowedPerType) {
      if (perms.length === 0) continue;
      any = true;
      const set = partial.get(type) ?? new Set<Permission>();
      perms.forEach((p) => set.add(p));
      partial.set(type, set);
    }
    if (!any) dropped.push(raw);
  }

  for (const [type, perms] of partial) {
    const missing = [...perms].filter(
      (p) => !granted.some((g) => scopeAllowsPermission(g, type, p)),
    );
    if (missing.length > 0) granted.push(`system/${type}.${permissionString(missing)}`);
  }
  return { granted, dropped };
}

function scopeAllowsPermission(raw: string, type: string, permission: Permission): boolean {
  const scope = parseScope(raw);
  return (
    scope !== null &&
    (scope.resourceType === '*' || scope.resourceType === type) &&
    scope.permissions.has(permission)
  );
}

/** For `.well-known/smart-configuration`: the wildcard scopes plus each type's full v2 scope. */
export function scopesSupported(): string[] {
  return [
    'system/*.cruds',
    'system/*.rs',
    'system/*.read',
    'system/*.write',
    ...SUPPORTED_RESOURCE_TYPES.flatMap((t) => [`system/${t}.cruds`, `system/${t}.rs`]),
  ];
}
