import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
} from 'jose';
import type { RegisteredClient } from './client.registry';
import { grantScopes, splitScopes } from './scopes';

/**
 * The token request of SMART Backend Services (client_credentials grant, private_key_jwt client
 * authentication, RFC 7523 / RFC 7521), validated step by step. Errors are RFC 6749 §5.2 errors.
 */

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
export const ASSERTION_ALGORITHMS = ['RS384', 'ES384'] as const;
/** A client assertion may expire at most five minutes after it is presented. */
export const MAX_ASSERTION_LIFETIME_SECONDS = 300;
/** Tolerated clock difference between client and server. */
export const CLOCK_SKEW_SECONDS = 10;
/**
 * What the caller is told whenever the client could not be authenticated: an unknown client, a
 * key it has not registered and a bad signature read the same, or the answer would tell which
 * client ids exist. The server logs the distinction (OAuthError.logReason).
 */
export const AUTHENTICATION_FAILED = 'client authentication failed';

const authenticationFailed = (logReason: string) =>
  new OAuthError('invalid_client', AUTHENTICATION_FAILED, 400, logReason);

export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'invalid_scope'
  | 'unauthorized_client'
  | 'unsupported_grant_type';

export class OAuthError extends Error {
  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    /** 400 for every error (RFC 6749 §5.2); 401 would require a WWW-Authenticate scheme. */
    readonly status = 400,
    /** What the server logs when it differs from what the caller is told (never PHI). */
    readonly logReason?: string,
  ) {
    super(`${error}: ${description}`);
    this.name = 'OAuthError';
  }

  toJSON(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}

export interface TokenRequestDeps {
  /** The token endpoint's URL: the `aud` every client assertion must carry. */
  tokenUrl: string;
  /** The same endpoint under the base URL's configured aliases: accepted as `aud` too. */
  tokenUrlAliases?: string[];
  findClient(clientId: string): Promise<RegisteredClient | null>;
  /** Records a jti until `expiresAt`; false when it was seen before (a replay). */
  rememberJti(clientId: string, jti: string, expiresAt: Date): Promise<boolean>;
  now?: () => number;
}

export interface AuthenticatedTokenRequest {
  client: RegisteredClient;
  grantedScopes: string[];
  droppedScopes: string[];
  /** The purpose of use the client stated in its assertion (statedPurposeOfUse), if any. */
  purposeOfUse?: string;
}

/** v3 PurposeOfUse (ActReason) as UDAP writes it: `urn:oid:2.16.840.1.113883.5.8#TREAT`. */
const PURPOSE_OF_USE_PREFIXES = [
  'urn:oid:2.16.840.1.113883.5.8#',
  'http://terminology.hl7.org/CodeSystem/v3-ActReason#',
];
const PURPOSE_CODE = /^[A-Z][A-Z0-9]{1,31}$/;

/**
 * The purpose of use a client states in its (signed) client assertion, as the HL7 UDAP Security
 * IG's B2B authorization extension carries it: `extensions: { "hl7-b2b": { purpose_of_use:
 * ["urn:oid:2.16.840.1.113883.5.8#TREAT"] } }`. A bare code (`"TREAT"`) or the v3-ActReason system
 * URL also do. One purpose per token: every decision the token's reads lead to is made for it.
 */
export function statedPurposeOfUse(payload: JWTPayload): string | undefined {
  const extensions = payload.extensions;
  if (extensions === undefined) return undefined;
  const b2b = (extensions as Record<string, unknown> | null)?.['hl7-b2b'];
  if (b2b === undefined) return undefined;
  const purposes = (b2b as Record<string, unknown> | null)?.purpose_of_use;
  if (purposes === undefined) return undefined;
  if (!Array.isArray(purposes) || purposes.length !== 1 || typeof purposes[0] !== 'string') {
    throw new OAuthError(
      'invalid_request',
      'extensions.hl7-b2b.purpose_of_use must be an array of one v3 PurposeOfUse code',
    );
  }
  const value: string = purposes[0];
  const prefix = PURPOSE_OF_USE_PREFIXES.find((p) => value.startsWith(p)) ?? '';
  const code = value.slice(prefix.length);
  if (!PURPOSE_CODE.test(code)) {
    throw new OAuthError(
      'invalid_request',
      'extensions.hl7-b2b.purpose_of_use must be a v3 PurposeOfUse code',
    );
  }
  return code;
}

type Form = Record<string, unknown>;

function single(form: Form, name: string): string | undefined {
  const value = form[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    throw new OAuthError('invalid_request', `${name} must be given once, as a string`);
  }
  return value;
}

/**
 * Validates a token request and authenticates its client. Order matters: the signature is
 * checked before the jti is recorded, so nobody can burn another client's jtis.
 */
export async function authenticateTokenRequest(
  form: Form,
  deps: TokenRequestDeps,
): Promise<AuthenticatedTokenRequest> {
  const now = deps.now ?? Date.now;
  const grantType = single(form, 'grant_type');
  if (!grantType) throw new OAuthError('invalid_request', 'grant_type is required');
  if (grantType !== 'client_credentials') {
    throw new OAuthError('unsupported_grant_type', 'only client_credentials is supported');
  }
  const assertionType = single(form, 'client_assertion_type');
  if (assertionType !== CLIENT_ASSERTION_TYPE) {
    throw new OAuthError(
      'invalid_request',
      `client_assertion_type must be ${CLIENT_ASSERTION_TYPE}`,
    );
  }
  const assertion = single(form, 'client_assertion');
  if (!assertion) throw new OAuthError('invalid_request', 'client_assertion is required');
  if (assertion.length > 16_384)
    throw new OAuthError('invalid_request', 'client_assertion is too long');
  const scope = single(form, 'scope');
  if (!scope || splitScopes(scope).length === 0) {
    throw new OAuthError('invalid_scope', 'scope is required');
  }

  let header: { alg?: string };
  let unverified: JWTPayload;
  try {
    header = decodeProtectedHeader(assertion);
    unverified = decodeJwt(assertion);
  } catch {
    throw new OAuthError('invalid_client', 'client_assertion is not a JWT');
  }
  if (!(ASSERTION_ALGORITHMS as readonly string[]).includes(header.alg ?? '')) {
    throw new OAuthError('invalid_client', 'client_assertion must be signed with RS384 or ES384');
  }
  const clientId = unverified.iss;
  if (typeof clientId !== 'string' || clientId === '' || unverified.sub !== clientId) {
    throw new OAuthError(
      'invalid_client',
      'client_assertion iss and sub must both be the client_id',
    );
  }
  const declaredClientId = single(form, 'client_id');
  if (declaredClientId !== undefined && declaredClientId !== clientId) {
    throw new OAuthError('invalid_client', 'client_id does not match the client_assertion');
  }

  const client = await deps.findClient(clientId);
  if (!client) throw authenticationFailed('unknown client');

  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(assertion, createLocalJWKSet(client.jwks), {
      algorithms: [...ASSERTION_ALGORITHMS],
      issuer: clientId,
      subject: clientId,
      audience: [deps.tokenUrl, ...(deps.tokenUrlAliases ?? [])],
      currentDate: new Date(now()),
      clockTolerance: CLOCK_SKEW_SECONDS,
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'jti'],
    }));
  } catch (error) {
    if (
      error instanceof joseErrors.JWKSNoMatchingKey ||
      error instanceof joseErrors.JWSSignatureVerificationFailed ||
      error instanceof joseErrors.JWKSMultipleMatchingKeys
    )
      throw authenticationFailed(describeJoseError(error, deps.tokenUrl));
    throw new OAuthError('invalid_client', describeJoseError(error, deps.tokenUrl));
  }
  // Only who holds the client's key learns that it is disabled.
  if (!client.active) throw new OAuthError('invalid_client', 'client is disabled');

  const nowSeconds = Math.floor(now() / 1000);
  if (payload.iat !== undefined && payload.iat > nowSeconds + CLOCK_SKEW_SECONDS) {
    throw new OAuthError('invalid_client', 'client_assertion iat is in the future');
  }
  const exp = payload.exp as number;
  if (exp - nowSeconds > MAX_ASSERTION_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS) {
    throw new OAuthError(
      'invalid_client',
      `client_assertion exp must be at most ${MAX_ASSERTION_LIFETIME_SECONDS} seconds in the future`,
    );
  }
  const jti = payload.jti;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 255) {
    throw new OAuthError(
      'invalid_client',
      'client_assertion jti must be a string of 1..255 characters',
    );
  }
  const fresh = await deps.rememberJti(clientId, jti, new Date(exp * 1000));
  if (!fresh) throw new OAuthError('invalid_client', 'client_assertion jti was already used');

  const { granted, dropped } = grantScopes(scope, client.role);
  if (granted.length === 0) {
    throw new OAuthError(
      'invalid_scope',
      `none of the requested scopes may be granted to a ${client.role} client`,
    );
  }
  const purposeOfUse = statedPurposeOfUse(payload);
  return { client, grantedScopes: granted, droppedScopes: dropped, purposeOfUse };
}

function describeJoseError(error: unknown, tokenUrl: string): string {
  if (error instanceof joseErrors.JWTExpired) return 'client_assertion has expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return `client_assertion aud must be the token URL ${tokenUrl}`;
    return `client_assertion claim ${error.claim} is invalid (${error.reason})`;
  }
  if (error instanceof joseErrors.JWKSNoMatchingKey) {
    return 'no registered key of the client matches the client_assertion (kid/alg)';
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
    return 'client_assertion signature is invalid';
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) {
    return 'client_assertion must be signed with RS384 or ES384';
  }
  return 'client_assertion is invalid';
}
