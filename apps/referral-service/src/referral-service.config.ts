import { IsIn, IsInt, IsJSON, IsNotEmpty, IsString, IsUrl, Max, Min } from 'class-validator';
import { ServiceConfig } from '@carerelay/config';

export class ReferralServiceConfig extends ServiceConfig {
  @IsInt()
  @Min(0)
  @Max(65535)
  REFERRAL_SERVICE_PORT = 8082;

  /** The FHIR API the workflow reads and writes through, as the platform's system client. */
  @IsUrl({ require_tld: false, protocols: ['http', 'https'] })
  FHIR_API_BASE_URL = 'http://localhost:8080/fhir';

  /** The Organization id of the Coordination Platform itself (owner of referrals sent to it). */
  @IsString()
  @IsNotEmpty()
  PLATFORM_ORGANIZATION_ID = 'carerelay-platform';

  @IsString()
  @IsNotEmpty()
  PLATFORM_CLIENT_ID: string = undefined as unknown as string;

  /** The platform client's private key, a JWK (JSON) whose public half is registered. */
  @IsJSON()
  PLATFORM_PRIVATE_JWK: string = undefined as unknown as string;

  @IsString()
  PLATFORM_SCOPES = 'system/*.cruds';

  @IsInt()
  @Min(1)
  @Max(10)
  ROUTING_MAX_ATTEMPTS = 3;

  /** How often the reconciliation compares open referrals with their Tasks. */
  @IsInt()
  @Min(100)
  @Max(3_600_000)
  RECONCILE_INTERVAL_MS = 30_000;

  /** A referral untouched this long whose Tasks disagree with it is repaired, not awaited. */
  @IsInt()
  @Min(0)
  @Max(86_400_000)
  RECONCILE_GRACE_MS = 120_000;

  /** Referrals compared per round (one FHIR read each for those with a CBO Task). */
  @IsInt()
  @Min(1)
  @Max(10_000)
  RECONCILE_BATCH = 50;

  /** How often the workflow looks for steps due again (a failed try, another instance's crash);
   * new steps are carried out as soon as the transaction that decided them commits. */
  @IsInt()
  @Min(10)
  @Max(60_000)
  STEP_POLL_MS = 1000;

  /** How long a runner holds the steps it claimed before another instance may take them: longer
   * than a step's FHIR calls take, since a step still running then is carried out twice; after a
   * crash, the crashed runner's steps wait this long. */
  @IsInt()
  @Min(1000)
  @Max(3_600_000)
  STEP_LEASE_MS = 60_000;

  /** Referrals whose steps are carried out at once (each referral's one at a time). */
  @IsInt()
  @Min(1)
  @Max(256)
  STEP_CONCURRENCY = 16;

  @IsIn(['on-hold', 'failed'])
  ROUTING_WHEN_EXHAUSTED: 'on-hold' | 'failed' = 'on-hold';
}

export const REFERRAL_SCHEMA = 'referral';
export const REFERRAL_SERVICE_NAME = 'referral-service';
