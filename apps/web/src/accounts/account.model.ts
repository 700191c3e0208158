/** The people of the web app: who they are, for which organization, in which role. */
export const WEB_ROLES = ['case-manager', 'cbo-admin', 'coordinator'] as const;
export type WebRole = (typeof WEB_ROLES)[number];
export const LANGUAGES = ['en', 'es'] as const;
export type Language = (typeof LANGUAGES)[number];

export interface WebUser {
  id: string;
  username: string;
  displayName: string;
  organizationId: string;
  role: WebRole;
  language: Language;
}

export interface StoredUser extends WebUser {
  passwordHash: string | null;
  failedAttempts: number;
  lockedUntil: Date | null;
}

/** A signed-in person as the rest of the app sees them (on request.webUser). */
export interface SessionUser extends WebUser {
  csrfToken: string;
  sessionHash: string;
}

/** The FHIR role of the organization client a web role acts with. */
export const fhirRoleOf = (role: WebRole): 'cbo' | 'coordinator' =>
  role === 'coordinator' ? 'coordinator' : 'cbo';
