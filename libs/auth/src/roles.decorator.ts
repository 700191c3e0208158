import { SetMetadata } from '@nestjs/common';
import type { ActorRole, RequestActor } from './actor';

/**
 * Who may call a service route:
 *  - `platform`: the platform's own client (service-to-service calls, `npm start`'s set-up);
 *  - `admin`: an operator: a coordinator of one of the admin organizations
 *    (SERVICE_AUTH_ADMIN_ORGANIZATIONS, default the platform's own organization);
 *  - `coordinator`, `ehr`, `cbo`: any client of that role.
 */
export type Caller = ActorRole | 'admin';

export const CALLERS: readonly Caller[] = ['platform', 'admin', 'coordinator', 'ehr', 'cbo'];

export const ROLES = 'carerelay:auth:roles';

/** The callers a route admits (any one of them). A route with neither @Roles nor @Public is refused. */
export const Roles = (...callers: Caller[]): MethodDecorator & ClassDecorator =>
  SetMetadata(ROLES, callers);

/** Whether `actor` is one of `callers`. */
export function admits(
  callers: readonly Caller[],
  actor: RequestActor,
  adminOrganizations: readonly string[],
): boolean {
  return callers.some((caller) =>
    caller === 'admin'
      ? actor.role === 'coordinator' && adminOrganizations.includes(actor.organizationId)
      : actor.role === caller,
  );
}
