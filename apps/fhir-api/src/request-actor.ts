import type { Request } from 'express';
import { unauthorized } from './fhir-lib';

/**
 * Who a request acts for. Set on `request.actor` by the auth guard (apps/fhir-api/src/auth);
 * every FHIR interaction reads it from there and nowhere else.
 */
export interface RequestActor {
  clientId: string;
  organizationId: string;
  role: 'ehr' | 'cbo' | 'coordinator' | 'platform';
  scopes: string[];
}

export const ACTOR_ROLES: readonly RequestActor['role'][] = [
  'ehr',
  'cbo',
  'coordinator',
  'platform',
];

export type RequestWithActor = Request & { actor?: RequestActor };

/** The actor of a request; 401 when no guard has set one. */
export function actorOf(request: RequestWithActor): RequestActor {
  const actor = request.actor;
  if (!actor) throw unauthorized('This request has no authenticated client');
  return actor;
}
