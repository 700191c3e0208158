import { IsIn, IsInt, IsString, Matches, Max, Min } from 'class-validator';
import { MAX_ACCESS_TOKEN_TTL_SECONDS } from './access-token';

/**
 * Environment of the auth module (validated with libs/config's loadConfig):
 *
 *  - FHIR_BASE_URL: the FHIR base as clients see it; the token URL is `<base>/auth/token` and is
 *    the `aud` every client assertion must carry; access tokens have iss = aud = the base.
 *  - FHIR_BASE_URL_ALIASES: other spellings of that base (localhost / 127.0.0.1) whose token URL
 *    an assertion may name too; tokens are still issued for FHIR_BASE_URL.
 *  - FHIR_TOKEN_SIGNING_KEY: private JWK (JSON) or PEM that signs access tokens. Give every
 *    fhir-api process the same value. Empty: see FHIR_TOKEN_SIGNING_KEY_SOURCE.
 *  - FHIR_TOKEN_SIGNING_KEY_SOURCE: `auto` (default: the env key if set, else `database`),
 *    `database` (a key generated once and kept in the schema's auth_signing_keys table, shared by
 *    every process on that database) or `memory` (generated at start; one process only).
 *  - FHIR_ACCESS_TOKEN_TTL_SECONDS: access token lifetime, 1..300 (default 300).
 *  - FHIR_ON_BEHALF_OF_CLIENTS: client ids of trusted web apps (apps/web), comma-separated: only
 *    their requests may name the signed-in person (X-On-Behalf-Of), recorded in the AuditEvent.
 */
export class AuthConfig {
  @Matches(/^https?:\/\/[^\s?#]+\/fhir$/, { message: 'must be an http(s) URL ending in /fhir' })
  FHIR_BASE_URL = 'http://localhost:8080/fhir';

  /**
   * Other spellings of the same base that clients are given (e.g. localhost beside 127.0.0.1):
   * a client assertion may name the token URL of any of them. Comma-separated; no others.
   */
  @Matches(/^(https?:\/\/[^\s?#,]+\/fhir)?(,https?:\/\/[^\s?#,]+\/fhir)*$/, {
    message: 'must be a comma-separated list of http(s) URLs ending in /fhir',
  })
  FHIR_BASE_URL_ALIASES = '';

  @IsString()
  FHIR_TOKEN_SIGNING_KEY = '';

  @IsIn(['auto', 'database', 'memory'])
  FHIR_TOKEN_SIGNING_KEY_SOURCE: 'auto' | 'database' | 'memory' = 'auto';

  @IsInt()
  @Min(1)
  @Max(MAX_ACCESS_TOKEN_TTL_SECONDS)
  FHIR_ACCESS_TOKEN_TTL_SECONDS = MAX_ACCESS_TOKEN_TTL_SECONDS;

  @Matches(/^([A-Za-z0-9_-]{1,100}(,[A-Za-z0-9_-]{1,100})*)?$/, {
    message: 'must be a comma-separated list of client ids',
  })
  FHIR_ON_BEHALF_OF_CLIENTS = '';
}

/** The header a trusted web app names its signed-in person with (a username). */
export const ON_BEHALF_OF_HEADER = 'x-on-behalf-of';
export const ON_BEHALF_OF_PATTERN = /^[a-z0-9._@-]{3,100}$/;

/** The route prefix of every FHIR route (controllers are declared under `fhir`). */
export const FHIR_ROUTE_PREFIX = '/fhir';
export const TOKEN_PATH = 'auth/token';
export const SMART_CONFIGURATION_PATH = '.well-known/smart-configuration';
export { JWKS_PATH } from '@carerelay/auth';

export const tokenUrlOf = (baseUrl: string): string =>
  `${baseUrl.replace(/\/+$/, '')}/${TOKEN_PATH}`;

export const baseUrlAliasesOf = (value: string): string[] =>
  value
    .split(',')
    .map((alias) => alias.trim())
    .filter(Boolean);
