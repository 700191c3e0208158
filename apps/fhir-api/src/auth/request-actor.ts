/**
 * The actor type is the store engineer's (apps/fhir-api/src/request-actor.ts); auth re-exports it
 * with a few helpers so that auth code imports from one place.
 */
import { ACTOR_ROLES, type RequestActor } from '../request-actor';

export { ACTOR_ROLES, actorOf, type RequestActor, type RequestWithActor } from '../request-actor';

export type ActorRole = RequestActor['role'];

export function isActorRole(value: unknown): value is ActorRole {
  return typeof value === 'string' && (ACTOR_ROLES as readonly string[]).includes(value);
}
