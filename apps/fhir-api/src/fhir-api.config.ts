import {
  IsBoolean,
  IsInt,
  Matches,
  Max,
  Min,
  Validate,
  ValidatorConstraint,
  type ValidationArguments,
  type ValidatorConstraintInterface,
} from 'class-validator';
import { HttpServiceConfig } from '@carerelay/config';

/** A development switch that a production process refuses to start with. */
@ValidatorConstraint({ name: 'notInProduction' })
class NotInProduction implements ValidatorConstraintInterface {
  validate(value: unknown, args: ValidationArguments): boolean {
    return value !== true || (args.object as { NODE_ENV?: string }).NODE_ENV !== 'production';
  }

  defaultMessage(): string {
    return 'must not be true with NODE_ENV=production';
  }
}

/** Environment of the FHIR API, validated once at start (see loadConfigOrExit). */
export class FhirApiConfig extends HttpServiceConfig {
  @IsInt()
  @Min(0)
  @Max(65535)
  FHIR_API_PORT = 8080;

  /** The FHIR base as clients see it: fullUrl, Location and links are built on it. */
  @Matches(/^https?:\/\/[^\s?#]+\/fhir$/, { message: 'must be an http(s) URL ending in /fhir' })
  FHIR_BASE_URL = 'http://localhost:8080/fhir';

  /**
   * Other addresses of the same server (localhost beside 127.0.0.1, an instance's own address
   * behind a load balancer), comma-separated: a reference on any of them is local, and a client
   * assertion may name the token URL of any of them (auth/auth.config.ts).
   */
  @Matches(/^(https?:\/\/[^\s?#,]+\/fhir)?(,https?:\/\/[^\s?#,]+\/fhir)*$/, {
    message: 'must be a comma-separated list of http(s) URLs ending in /fhir',
  })
  FHIR_BASE_URL_ALIASES = '';

  @Matches(/^[a-z_][a-z0-9_]{0,62}$/, { message: 'must be a lower-case SQL identifier' })
  FHIR_DB_SCHEMA = 'fhir_api';

  @IsInt()
  @Min(1024)
  @Max(64 * 1024 * 1024)
  FHIR_MAX_BODY_BYTES = 4 * 1024 * 1024;

  /** An XML body's cap (the lower of the two applies): its conversion holds the event loop. */
  @IsInt()
  @Min(1024)
  @Max(64 * 1024 * 1024)
  FHIR_MAX_XML_BODY_BYTES = 1024 * 1024;

  /** Largest page a search returns (`_count` above it is capped). */
  @IsInt()
  @Min(1)
  @Max(1000)
  FHIR_MAX_COUNT = 100;

  @IsInt()
  @Min(1)
  @Max(1000)
  FHIR_DEFAULT_COUNT = 20;

  @IsInt()
  @Min(1)
  @Max(10_000)
  FHIR_MAX_BUNDLE_ENTRIES = 500;

  /**
   * The key (32 bytes, base64url) that encrypts the keyset cursors of search links. Empty: a
   * random key per process, so a cursor is good only at the instance that wrote it: set one
   * shared key where several instances serve one base URL.
   */
  @Matches(/^([A-Za-z0-9_-]{43})?$/, { message: 'must be 32 bytes in base64url (43 characters)' })
  FHIR_SEARCH_CURSOR_KEY = '';

  /** The most one search may return: its page times one plus its _include/_revinclude count. */
  @IsInt()
  @Min(1)
  FHIR_MAX_SEARCH_COST = 1000;

  /** The most one batch or transaction may read and write: reads and writes 1, searches their cost. */
  @IsInt()
  @Min(1)
  FHIR_MAX_BUNDLE_COST = 2000;

  /** Requests per client per window (a Bundle counts its entries); beyond them 429. 0: no limit. */
  @IsInt()
  @Min(0)
  FHIR_RATE_LIMIT_POINTS = 3000;

  @IsInt()
  @Min(1)
  FHIR_RATE_LIMIT_WINDOW_SECONDS = 10;

  /** Token requests per calling address per window; beyond them 429. 0: no limit. */
  @IsInt()
  @Min(0)
  FHIR_TOKEN_RATE_LIMIT_POINTS = 600;

  @IsInt()
  @Min(1)
  FHIR_TOKEN_RATE_LIMIT_WINDOW_SECONDS = 60;

  /** Attempts of one transaction on serialization failures, deadlocks and unique races. */
  @IsInt()
  @Min(1)
  @Max(50)
  FHIR_TRANSACTION_ATTEMPTS = 8;

  @IsInt()
  @Min(1)
  @Max(200)
  FHIR_DB_POOL_SIZE = 20;

  /**
   * Admission control: FHIR requests served at once (more wait, see below). Beyond about 16 of
   * the EHRs' Bundles at once, on two cores, a request only grows slower: 16 for new work, plus
   * the slots kept for the platform (8) and for other work under way (4).
   */
  @IsInt()
  @Min(1)
  @Max(10_000)
  FHIR_MAX_IN_FLIGHT = 28;

  /** Requests that may wait for admission in each lane; beyond, 503 with Retry-After at once. */
  @IsInt()
  @Min(0)
  @Max(100_000)
  FHIR_MAX_QUEUED = 64;

  /**
   * Longest wait of new work (an EHR's Bundle or create) for admission before 503 (ms): a short
   * wait absorbs a burst; a longer one only adds to the latency of what is accepted and makes
   * refusals slow.
   */
  @IsInt()
  @Min(0)
  @Max(60_000)
  FHIR_MAX_QUEUE_WAIT_MS = 50;

  /**
   * Longest wait of other requests (ms), work under way: refused, a referral's next step fails
   * and backs off and a case manager sees an error, while a new Bundle is simply sent again.
   */
  @IsInt()
  @Min(0)
  @Max(60_000)
  FHIR_UNDER_WAY_QUEUE_WAIT_MS = 1000;

  /**
   * In-flight slots (of FHIR_MAX_IN_FLIGHT) left to the platform's own services, whose requests
   * also go in before any other waiting one: under overload, referrals already taken in are
   * routed and closed while new work is refused, instead of their steps failing and backing off.
   */
  @IsInt()
  @Min(0)
  @Max(9_999)
  FHIR_ADMISSION_RESERVED_FOR_PLATFORM = 8;

  /**
   * In-flight slots (of FHIR_MAX_IN_FLIGHT) left to work under way that is not the platform's:
   * reads, searches, updates and deletes, and whatever a CBO or coordinator sends. Under a flood
   * of new referrals a case manager can still work the ones already routed.
   */
  @IsInt()
  @Min(0)
  @Max(9_999)
  FHIR_ADMISSION_RESERVED_FOR_UNDER_WAY = 4;

  /**
   * Hosts (names or IP literals, comma-separated) a Subscription may notify over plain http and
   * at internal addresses (loopback, private, link-local). Empty: https to public hosts only.
   */
  @Matches(/^[A-Za-z0-9.:[\],_-]*$/, { message: 'must be a comma-separated list of host names' })
  SUBSCRIPTION_ALLOWED_HTTP_HOSTS = '';

  /**
   * Development and tests only: every request acts as a network coordinator (or as the actor
   * named by the `X-Dev-Actor` header). Refused with NODE_ENV=production.
   */
  @IsBoolean()
  @Validate(NotInProduction)
  FHIR_AUTH_DISABLED = false;
}
