import { IsBoolean, IsIn, IsInt, IsString, Matches, Max, Min, ValidateIf } from 'class-validator';
import { ServiceConfig } from '@carerelay/config';

/**
 * The web app's environment, read and validated once at start (loadConfigOrExit). OIDC settings
 * are required only when OIDC sign-in is switched on.
 */
export class WebConfig extends ServiceConfig {
  @IsInt()
  @Min(0)
  @Max(65535)
  WEB_PORT = 8087;

  @Matches(/^[a-z_][a-z0-9_]{0,62}$/, { message: 'must be a lower-case PostgreSQL schema name' })
  WEB_DB_SCHEMA = 'web';

  /** The FHIR API the web app calls as its organizations' clients. */
  @Matches(/^https?:\/\/.+/, { message: 'must be an http(s) URL' })
  FHIR_API_BASE_URL = 'http://localhost:8080/fhir';

  @Matches(/^https?:\/\/.+/, { message: 'must be an http(s) URL' })
  ANALYTICS_SERVICE_URL = 'http://127.0.0.1:8086';

  /** Contact attempts and deadlines (the follow-up service's timers). */
  @Matches(/^https?:\/\/.+/, { message: 'must be an http(s) URL' })
  FOLLOWUP_SERVICE_URL = 'http://127.0.0.1:8084';

  /** Services and their capacity (CBO admins change it here; routing reads it). */
  @Matches(/^https?:\/\/.+/, { message: 'must be an http(s) URL' })
  DIRECTORY_SERVICE_URL = 'http://127.0.0.1:8081';

  /** Parked EHR updates and their replay. */
  @Matches(/^https?:\/\/.+/, { message: 'must be an http(s) URL' })
  EHR_CONNECTOR_URL = 'http://127.0.0.1:8085';

  /**
   * The platform's SMART client: the follow-up service's records and timers, directory capacity
   * writes and the EHR connector's replay admit the platform (or an operator) only, so the web app
   * calls them with it after checking the person may (their organization's referral or service,
   * a coordinator for replays). Empty: those parts of the app say they are not connected.
   */
  @IsString()
  PLATFORM_CLIENT_ID = '';

  @Matches(/^$|^\s*\{[\s\S]*\}\s*$/, { message: 'must be a private JWK (JSON) or empty' })
  PLATFORM_PRIVATE_JWK = '';

  /**
   * The SMART Backend Services clients the web app acts with, one per organization whose people
   * sign in: JSON `[{organizationId, role, clientId, privateJwk}]`. Registered as trusted web
   * apps (FHIR_ON_BEHALF_OF_CLIENTS of the FHIR API), so the FHIR API records the person.
   */
  @Matches(/^\s*\[[\s\S]*\]\s*$/, { message: 'must be a JSON array of clients' })
  WEB_FHIR_CLIENTS = '[]';

  /** Seed the demo people (two CBOs and the coordinator) at start. */
  @IsBoolean()
  WEB_SEED_DEMO = false;

  /** Where the built single-page app is (dist/apps/web/client by default). */
  @IsString()
  WEB_CLIENT_DIR = '';

  @IsInt()
  @Min(5)
  @Max(24 * 60)
  WEB_SESSION_TTL_MINUTES = 480;

  @IsInt()
  @Min(3)
  @Max(20)
  WEB_LOCKOUT_THRESHOLD = 5;

  @IsInt()
  @Min(1)
  @Max(24 * 60)
  WEB_LOCKOUT_MINUTES = 15;

  /** Secure cookies: on behind HTTPS (production); off on plain loopback HTTP. */
  @IsBoolean()
  WEB_COOKIE_SECURE = false;

  /**
   * Deadlines shown to case managers when the follow-up service has no timer for a referral (not
   * connected, or not yet seen its events): acceptance of a new referral, closure of an accepted one.
   */
  @IsInt()
  @Min(1)
  @Max(24 * 30)
  WEB_ACCEPT_WITHIN_HOURS = 48;

  @IsInt()
  @Min(1)
  @Max(365)
  WEB_CLOSE_WITHIN_DAYS = 30;

  @Matches(/^[A-Za-z0-9._-]{1,200}$/, { message: 'must be a Kafka group id' })
  WEB_LIVE_CONSUMER_GROUP = 'web-live';

  @IsIn(['password', 'oidc', 'both'])
  WEB_SIGN_IN = 'password';

  @ValidateIf((c: WebConfig) => c.WEB_SIGN_IN !== 'password')
  @Matches(/^https:\/\/.+|^http:\/\/(localhost|127\.0\.0\.1)(:\d+)?(\/.*)?$/, {
    message: 'must be an https URL (http only on loopback)',
  })
  WEB_OIDC_ISSUER = '';

  @ValidateIf((c: WebConfig) => c.WEB_SIGN_IN !== 'password')
  @Matches(/^.{1,200}$/, { message: 'is required when OIDC sign-in is on' })
  WEB_OIDC_CLIENT_ID = '';

  @ValidateIf((c: WebConfig) => c.WEB_SIGN_IN !== 'password')
  @Matches(/^.{8,500}$/, { message: 'is required when OIDC sign-in is on' })
  WEB_OIDC_CLIENT_SECRET = '';

  @ValidateIf((c: WebConfig) => c.WEB_SIGN_IN !== 'password')
  @Matches(/^https?:\/\/.+\/api\/oidc\/callback$/, {
    message: 'must be the web app URL ending in /api/oidc/callback',
  })
  WEB_OIDC_REDIRECT_URL = '';

  /** The ID token claim naming the person's organization, and the one naming the role. */
  @IsString()
  WEB_OIDC_ORG_CLAIM = 'carerelay_org';

  @IsString()
  WEB_OIDC_ROLE_CLAIM = 'carerelay_role';
}

export const WEB_SERVICE_NAME = 'web';
export const WEB_CONFIG = Symbol('WEB_CONFIG');
