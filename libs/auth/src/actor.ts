/**
 * Who a request acts for: the SMART client an access token was issued to. The FHIR API and every
 * service API read it from `request.actor`, set by their auth guard and nowhere else.
 */
export interface RequestActor {
  clientId: string;
  organizationId: string;
  role: 'ehr' | 'cbo' | 'coordinator' | 'platform';
  scopes: string[];
  /**
   * The person a trusted web app acts for (its username), recorded in the AuditEvent. Set by the
   * FHIR API's guard only for clients listed in FHIR_ON_BEHALF_OF_CLIENTS.
   */
  onBehalfOf?: string;
  /**
   * The v3 PurposeOfUse code the client reads for (claim `purpose_of_use` of its token): what
   * purpose-limited consents are checked against. A CBO token always has one (TREAT by default).
   */
  purposeOfUse?: string;
}

export type ActorRole = RequestActor['role'];

export const ACTOR_ROLES: readonly ActorRole[] = ['ehr', 'cbo', 'coordinator', 'platform'];

export function isActorRole(value: unknown): value is ActorRole {
  return typeof value === 'string' && (ACTOR_ROLES as readonly string[]).includes(value);
}

/** Splits a space-separated scope parameter (or accepts a list), dropping empties and duplicates. */
export function splitScopes(scope: string | readonly string[] | undefined | null): string[] {
  if (scope === undefined || scope === null) return [];
  const list = typeof scope === 'string' ? scope.split(/\s+/) : scope;
  return [...new Set(list.map((s) => s.trim()).filter((s) => s.length > 0))];
}

/** The bearer token of an Authorization header: undefined when there is none, null when malformed. */
export function bearerTokenOf(header: string | string[] | undefined): string | undefined | null {
  if (header === undefined) return undefined;
  if (Array.isArray(header)) return null;
  const match = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(header);
  return match ? match[1] : null;
}
