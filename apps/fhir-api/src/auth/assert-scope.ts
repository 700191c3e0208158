import { forbidden } from '@carerelay/fhir';
import type { RequestActor } from './request-actor';
import { type Interaction, requiredScope, roleAllows, scopeAllows } from './scopes';

/**
 * Throws a 403 FhirError (OperationOutcome code `forbidden`, naming the missing scope) unless the
 * actor's token grants `interaction` on `resourceType` AND the actor's role may do it at all
 * (a token outlives a policy change by at most five minutes; this closes even that gap).
 * Call it for every request and for every entry of a batch/transaction Bundle.
 */
export function assertScope(
  actor: RequestActor,
  resourceType: string,
  interaction: Interaction,
): void {
  if (!scopeAllows(actor.scopes, resourceType, interaction)) {
    throw forbidden(
      `${interaction} on ${resourceType} needs the scope ${requiredScope(resourceType, interaction)} ` +
        `(or system/${resourceType}.${interaction === 'create' || interaction === 'update' || interaction === 'patch' || interaction === 'delete' ? 'write' : 'read'}); ` +
        `the token grants: ${actor.scopes.join(' ') || 'nothing'}`,
    );
  }
  if (!roleAllows(actor.role, resourceType, interaction)) {
    throw forbidden(`a ${actor.role} client may not ${interaction} ${resourceType}`);
  }
}

/** The boolean form of assertScope, e.g. to filter `_include`d types silently. */
export function actorMay(
  actor: RequestActor,
  resourceType: string,
  interaction: Interaction,
): boolean {
  return (
    scopeAllows(actor.scopes, resourceType, interaction) &&
    roleAllows(actor.role, resourceType, interaction)
  );
}
