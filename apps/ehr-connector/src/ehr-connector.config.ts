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
  Validate,
  ValidateIf,
  ValidatorConstraint,
  type ValidatorConstraintInterface,
  type ValidationArguments,
} from 'class-validator';
import { ServiceConfig } from '@carerelay/config';

/**
 * Connections the connector needs beside the push lanes: the consumer (three partitions at a
 * time), the pull and remote-fetch workers, table maintenance.
 */
export const POOL_CONNECTIONS_BESIDE_PUSH = 6;

/**
 * Each push lane holds a pooled connection for its Task's transaction: lanes that take the whole
 * pool starve everything else, the lanes' own reads included, and every push fails.
 */
@ValidatorConstraint({ name: 'leavesPoolRoom' })
class LeavesPoolRoom implements ValidatorConstraintInterface {
  validate(value: unknown, args: ValidationArguments): boolean {
    const pool = (args.object as { EHR_CONNECTOR_DB_POOL_SIZE?: unknown })
      .EHR_CONNECTOR_DB_POOL_SIZE;
    return (
      typeof value !== 'number' ||
      typeof pool !== 'number' ||
      value + POOL_CONNECTIONS_BESIDE_PUSH <= pool
    );
  }

  defaultMessage(): string {
    return `must leave ${POOL_CONNECTIONS_BESIDE_PUSH} connections of EHR_CONNECTOR_DB_POOL_SIZE for the rest of the connector`;
  }
}

/** Environment of the ehr-connector, validated once at start. */
export class EhrConnectorConfig extends ServiceConfig {
  @IsInt()
  @Min(0)
  @Max(65535)
  EHR_CONNECTOR_PORT = 8085;

  @Matches(/^[a-z_][a-z0-9_]{0,62}$/, { message: 'must be a lower-case SQL identifier' })
  EHR_CONNECTOR_DB_SCHEMA = 'ehr_connector';

  @Matches(/^[A-Za-z0-9._-]{1,100}$/)
  EHR_CONNECTOR_CONSUMER_GROUP = 'ehr-connector';

  /** CareRelay's FHIR API, used as the platform's system client (pull intake, Procedure reads). */
  @IsUrl({ require_tld: false, protocols: ['http', 'https'] })
  FHIR_API_BASE_URL = 'http://localhost:8080/fhir';

  /** The Organization id of the Coordination Platform (owner of pulled referrals). */
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

  @ValidateIf((c: EhrConnectorConfig) => c.FHIR_API_AUTH === 'smart')
  @IsString()
  @IsNotEmpty()
  PLATFORM_CLIENT_ID = '';

  /** The platform client's private key, a JWK (JSON) whose public half is registered. */
  @ValidateIf((c: EhrConnectorConfig) => c.FHIR_API_AUTH === 'smart')
  @IsJSON()
  PLATFORM_PRIVATE_JWK = '';

  @IsString()
  PLATFORM_SCOPES = 'system/*.cruds';

  /**
   * AES-256-GCM key (32 bytes, base64) that encrypts the EHR endpoints' private keys in
   * ehr_endpoint_credentials. Unset: endpoints with auth smart-backend cannot be registered nor
   * used. `npm start` generates one (.carerelay/demo/secrets.json).
   */
  @IsOptional()
  @Matches(/^[A-Za-z0-9+/_=-]{43,44}$/, { message: 'must be 32 bytes, base64' })
  EHR_CREDENTIALS_KEY?: string = undefined;

  /** Earlier keys (comma-separated), still read after a rotation until `ehr:rekey` has run. */
  @IsOptional()
  @Matches(/^[A-Za-z0-9+/_=-]{43,44}(,[A-Za-z0-9+/_=-]{43,44})*$/, {
    message: 'must be comma-separated 32-byte base64 keys',
  })
  EHR_CREDENTIALS_PREVIOUS_KEYS?: string = undefined;

  /**
   * Origins (comma-separated, e.g. https://auth.hospital.example) an EHR's token URL may have
   * besides its FHIR base URL's own. Empty: same origin only.
   */
  @IsOptional()
  @Matches(/^https?:\/\/[^\s,/]+(,https?:\/\/[^\s,/]+)*$/, {
    message: 'must be comma-separated http(s) origins',
  })
  EHR_TOKEN_URL_ALLOWED_ORIGINS?: string = undefined;

  /** Push: attempts of one Task version before it is parked for a coordinator to replay. */
  @IsInt()
  @Min(1)
  @Max(100)
  PUSH_MAX_ATTEMPTS = 10;

  /**
   * Push: an EHR that cannot be reached (no answer, 5xx, 408, 429) is waited out this long, from
   * when a version was queued, before that version is parked: an EHR down for maintenance is
   * caught up in order once it is back, with no replay. Refusals (other 4xx) park after
   * PUSH_MAX_ATTEMPTS at once.
   */
  @IsInt()
  @Min(0)
  @Max(7 * 24 * 3_600_000)
  PUSH_OUTAGE_PARK_AFTER_MS = 3_600_000;

  @IsInt()
  @Min(10)
  @Max(60_000)
  PUSH_INITIAL_BACKOFF_MS = 500;

  @IsInt()
  @Min(100)
  @Max(3_600_000)
  PUSH_MAX_BACKOFF_MS = 60_000;

  /**
   * Push: whether businessStatus is written to EHR Tasks (CareRelay's own FHIR API takes it from
   * a Task's owner; an EHR that keeps to the IG's owner elements strictly does not).
   */
  @IsBoolean()
  PUSH_BUSINESS_STATUS = true;

  /** How often the push worker looks for due deliveries (it is also woken by new ones). */
  @IsInt()
  @Min(10)
  @Max(60_000)
  PUSH_POLL_MS = 200;

  /** Tasks pushed at the same time (each Task's versions always go one after another). */
  @IsInt()
  @Min(1)
  @Max(64)
  @Validate(LeavesPoolRoom)
  PUSH_CONCURRENCY = 16;

  /** How often the pull poller looks for endpoints whose poll is due (each has its interval). */
  @IsInt()
  @Min(50)
  @Max(600_000)
  PULL_TICK_MS = 1_000;

  /**
   * A referral Task posted with its ServiceRequest on the EHR: attempts while the EHR (or
   * CareRelay) refuses (a 404 while the EHR commits) before the Task is rejected.
   */
  @IsInt()
  @Min(1)
  @Max(100)
  REMOTE_FETCH_MAX_ATTEMPTS = 6;

  /** How long an EHR that cannot be reached (no answer, 5xx, 408, 429) is waited out, from when the Task came. */
  @IsInt()
  @Min(0)
  @Max(7 * 24 * 3_600_000)
  REMOTE_FETCH_GIVE_UP_AFTER_MS = 3_600_000;

  @IsInt()
  @Min(10)
  @Max(60_000)
  REMOTE_FETCH_INITIAL_BACKOFF_MS = 1_000;

  @IsInt()
  @Min(100)
  @Max(3_600_000)
  REMOTE_FETCH_MAX_BACKOFF_MS = 60_000;

  /** How often queued remote referrals are looked for (the consumer also wakes the worker). */
  @IsInt()
  @Min(10)
  @Max(60_000)
  REMOTE_FETCH_POLL_MS = 1_000;

  @IsInt()
  @Min(2)
  @Max(100)
  EHR_CONNECTOR_DB_POOL_SIZE = 24;
}

export const EHR_CONNECTOR_SERVICE_NAME = 'ehr-connector';
