import {
  IsBoolean,
  IsIn,
  IsInt,
  IsJSON,
  IsNotEmpty,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  Min,
  ValidateIf,
} from 'class-validator';
import { ServiceConfig } from '@carerelay/config';

export class DirectoryServiceConfig extends ServiceConfig {
  @IsInt()
  @Min(0)
  @Max(65535)
  DIRECTORY_SERVICE_PORT = 8086;

  /** The PostgreSQL schema the service owns (tests use one of their own). */
  @Matches(/^[a-z_][a-z0-9_]{0,62}$/)
  DIRECTORY_DB_SCHEMA = 'directory';

  /** At start, import the sample directory (SAMPLE_DIRECTORY_SEED, the demo's) when the directory is empty; only ever once. */
  @IsBoolean()
  DIRECTORY_SEED_SAMPLE = false;

  /** Largest HSDS import (a whole directory as one document; other bodies: 256kb), e.g. 5mb. */
  @Matches(/^\d+(kb|mb)$/)
  DIRECTORY_BODY_LIMIT = '5mb';

  /** Least time between two republishes of the whole directory (each re-announces every entry). */
  @IsInt()
  @Min(0)
  DIRECTORY_REPUBLISH_MIN_INTERVAL_SECONDS = 60;

  /**
   * The FHIR API the directory is published to (Organization, HealthcareService, Location) as the
   * platform's system client. Unset: no FHIR publisher runs.
   */
  @IsOptional()
  @IsUrl({ require_tld: false, protocols: ['http', 'https'] })
  FHIR_API_BASE_URL?: string = undefined;

  /** The consumer group of the FHIR publisher (on directory.events.v1). */
  @Matches(/^[A-Za-z0-9._-]{1,100}$/)
  DIRECTORY_FHIR_CONSUMER_GROUP = 'directory-service-fhir';

  @IsString()
  @IsNotEmpty()
  PLATFORM_ORGANIZATION_ID = 'carerelay-platform';

  /**
   * `smart`: SMART Backend Services as PLATFORM_CLIENT_ID; `dev`: no token, the
   * `X-Dev-Actor: platform:<PLATFORM_ORGANIZATION_ID>` header (a fhir-api with
   * FHIR_AUTH_DISABLED=true only: development and tests).
   */
  @IsIn(['smart', 'dev'])
  FHIR_API_AUTH: 'smart' | 'dev' = 'smart';

  @ValidateIf(
    (c: DirectoryServiceConfig) => c.FHIR_API_BASE_URL !== undefined && c.FHIR_API_AUTH === 'smart',
  )
  @IsString()
  @IsNotEmpty()
  PLATFORM_CLIENT_ID = '';

  /** The platform client's private key, a JWK (JSON) whose public half is registered. */
  @ValidateIf(
    (c: DirectoryServiceConfig) => c.FHIR_API_BASE_URL !== undefined && c.FHIR_API_AUTH === 'smart',
  )
  @IsJSON()
  PLATFORM_PRIVATE_JWK = '';

  @IsString()
  PLATFORM_SCOPES = 'system/Organization.cru system/HealthcareService.cru system/Location.cru';
}

export const DIRECTORY_SCHEMA = 'directory';
export const DIRECTORY_SERVICE_NAME = 'directory-service';
