import { IsOptional, IsString, Matches } from 'class-validator';

/**
 * How a service verifies the access tokens its callers present (libs/config's loadConfig):
 *
 *  - FHIR_BASE_URL: the FHIR API's base URL, the `iss` and `aud` of its tokens (the same value
 *    the FHIR API is given).
 *  - SERVICE_AUTH_ISSUER: the tokens' `iss` and `aud` when they differ from FHIR_BASE_URL
 *    (a FHIR API behind another public URL); default FHIR_BASE_URL.
 *  - SERVICE_AUTH_JWKS_URL: where the FHIR API publishes its token-verification keys; default
 *    `<FHIR_BASE_URL>/.well-known/jwks.json`.
 *  - SERVICE_AUTH_ADMIN_ORGANIZATIONS: comma-separated organization ids whose coordinators are
 *    operators (`admin`); default PLATFORM_ORGANIZATION_ID (carerelay-platform).
 */
export class ServiceAuthConfig {
  @Matches(/^https?:\/\/[^\s?#]+$/, { message: 'must be an http(s) URL' })
  FHIR_BASE_URL = 'http://localhost:8080/fhir';

  @IsOptional()
  @Matches(/^https?:\/\/[^\s?#]+$/, { message: 'must be an http(s) URL' })
  SERVICE_AUTH_ISSUER?: string = undefined;

  @IsOptional()
  @Matches(/^https?:\/\/[^\s#]+$/, { message: 'must be an http(s) URL' })
  SERVICE_AUTH_JWKS_URL?: string = undefined;

  @IsString()
  PLATFORM_ORGANIZATION_ID = 'carerelay-platform';

  @IsOptional()
  @Matches(/^[A-Za-z0-9\-.]{1,64}(,[A-Za-z0-9\-.]{1,64})*$/, {
    message: 'must be a comma-separated list of organization ids',
  })
  SERVICE_AUTH_ADMIN_ORGANIZATIONS?: string = undefined;
}

export const JWKS_PATH = '.well-known/jwks.json';

export const jwksUrlOf = (fhirBaseUrl: string): string =>
  `${fhirBaseUrl.replace(/\/+$/, '')}/${JWKS_PATH}`;
