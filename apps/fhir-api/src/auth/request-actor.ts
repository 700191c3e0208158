/**
 * The actor type belongs to the request pipeline (apps/fhir-api/src/request-actor.ts); auth
 * re-exports it with a few helpers so that auth code imports from one place.
 */
export { ACTOR_ROLES, actorOf, type RequestActor, type RequestWithActor } from '../request-actor';
export { isActorRole, type ActorRole } from '@carerelay/auth';
