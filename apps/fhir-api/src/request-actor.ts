import type { Request } from 'express';
import { unauthorized } from '@carerelay/fhir';

import type { RequestActor } from '@carerelay/auth';

/**
 * Who a request acts for (libs/auth, shared with the service APIs). Set on `request.actor` by the
 * auth guard (apps/fhir-api/src/auth); every FHIR interaction reads it from there and nowhere else.
 */
export { ACTOR_ROLES, type RequestActor } from '@carerelay/auth';

export type RequestWithActor = Request & { actor?: RequestActor };

/** The actor of a request; 401 when no guard has set one. */
export function actorOf(request: RequestWithActor): RequestActor {
  const actor = request.actor;
  if (!actor) throw unauthorized('This request has no authenticated client');
  return actor;
}
