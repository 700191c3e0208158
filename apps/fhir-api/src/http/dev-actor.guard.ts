import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { badRequest } from '@carerelay/fhir';
import { ACTOR_ROLES, type RequestActor, type RequestWithActor } from '../request-actor';

export const DEV_ACTOR: RequestActor = {
  clientId: 'dev',
  organizationId: 'dev-platform',
  role: 'platform',
  scopes: ['system/*.*'],
};

/**
 * Development and tests only (FHIR_AUTH_DISABLED=true): a request without an actor acts as the
 * platform (sees and writes the whole network; scopes and role ceilings still apply), or as the actor of the `X-Dev-Actor: <role>:<organization id>` header.
 * Never registered otherwise; the real guard lives in src/auth.
 */
@Injectable()
export class DevActorGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<RequestWithActor>();
    if (request.actor) return true;
    const raw = request.headers['x-dev-actor'];
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (!value) {
      request.actor = DEV_ACTOR;
      return true;
    }
    const [role, organizationId] = value.split(':', 2);
    if (!ACTOR_ROLES.includes(role as RequestActor['role']) || !organizationId) {
      throw badRequest('X-Dev-Actor must be <ehr|cbo|coordinator|platform>:<organization id>');
    }
    request.actor = {
      clientId: `dev-${role}-${organizationId}`,
      organizationId,
      role: role as RequestActor['role'],
      scopes: ['system/*.*'],
    };
    return true;
  }
}
