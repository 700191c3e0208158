/**
 * Who a request acts for, set by the auth guard on `request.actor`.
 *
 * NOTE: the store engineer owns `apps/fhir-api/src/request-actor.ts`; it did not exist when auth
 * was written, so this is the agreed interface verbatim. Once theirs lands, this file should
 * re-export it (`export type { RequestActor } from '../request-actor'`).
 */
export interface RequestActor {
  clientId: string;
  organizationId: string;
  role: 'ehr' | 'cbo' | 'coordinator' | 'platform';
  scopes: string[];
}

export type ActorRole = RequestActor['role'];

export const ACTOR_ROLES: readonly ActorRole[] = ['ehr', 'cbo', 'coordinator', 'platform'];

/** Roles that may be given to a registered client (platform is for CareRelay's own services). */
export const CLIENT_ROLES: readonly ActorRole[] = ACTOR_ROLES;

export function isActorRole(value: unknown): value is ActorRole {
  return typeof value === 'string' && (ACTOR_ROLES as readonly string[]).includes(value);
}
