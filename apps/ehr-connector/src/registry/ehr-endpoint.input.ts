import { createPrivateKey, type JsonWebKey } from 'node:crypto';
import {
  ArrayNotEmpty,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  Min,
  ValidateIf,
  validateSync,
} from 'class-validator';
import { plainToInstance } from 'class-transformer';

export const EHR_MODES = ['push', 'subscribe', 'pull'] as const;
export type EhrMode = (typeof EHR_MODES)[number];
export const EHR_AUTH = ['none', 'smart-backend'] as const;
export type EhrAuth = (typeof EHR_AUTH)[number];

const URL_OPTIONS = { require_tld: false, require_protocol: true, protocols: ['http', 'https'] };

/**
 * One EHR FHIR server, as registered by a coordinator (CLI `ehr:add` or `POST /ehr-endpoints`).
 * `subscribe` is recorded for EHRs that subscribe to CareRelay (served by the FHIR API's
 * Subscriptions); the connector itself acts on `push` and `pull`.
 */
export class EhrEndpointInput {
  /** A short name, e.g. general-hospital. */
  @Matches(/^[a-z0-9][a-z0-9-]{0,62}$/, { message: 'id must be lower-case letters, digits and -' })
  id!: string;

  /** The EHR's Organization id in CareRelay (the requester of the referrals it sends). */
  @Matches(/^[A-Za-z0-9\-.]{1,64}$/, { message: 'organizationId must be a FHIR id' })
  organizationId!: string;

  /** The EHR's FHIR base URL. */
  @IsUrl(URL_OPTIONS, { message: 'baseUrl must be an http(s) URL' })
  @Matches(/^[^?#\s]*[^/?#\s]$/, { message: 'baseUrl must not end in / nor carry a query' })
  baseUrl!: string;

  @IsIn(EHR_AUTH)
  auth: EhrAuth = 'none';

  @ValidateIf((o: EhrEndpointInput) => o.auth === 'smart-backend')
  @IsUrl(URL_OPTIONS, { message: 'tokenUrl must be an http(s) URL (smart-backend)' })
  tokenUrl?: string;

  @ValidateIf((o: EhrEndpointInput) => o.auth === 'smart-backend')
  @IsString()
  @IsNotEmpty({ message: 'clientId is required with smart-backend' })
  clientId?: string;

  /**
   * The private JWK (with kid) whose public half the EHR has registered. Write-only: stored
   * encrypted (ehr_endpoint_credentials), never answered back.
   */
  @ValidateIf((o: EhrEndpointInput) => o.auth === 'smart-backend')
  @IsObject({ message: 'privateJwk (a private JWK object) is required with smart-backend' })
  privateJwk?: Record<string, unknown>;

  @IsOptional()
  @IsString()
  scope?: string;

  @IsArray()
  @ArrayNotEmpty()
  @ArrayUnique()
  @IsIn(EHR_MODES, { each: true, message: `each mode must be one of ${EHR_MODES.join(', ')}` })
  modes!: EhrMode[];

  /** How the EHR names CareRelay as Task.owner (pull searches `owner=` it). */
  @IsOptional()
  @Matches(/^(https?:\/\/\S+\/)?Organization\/[A-Za-z0-9\-.]{1,64}$/, {
    message: 'platformOwnerReference must be an Organization reference',
  })
  platformOwnerReference?: string;

  /** Pull interval; the IG asks for no more than every 15 minutes (900 s) in production. */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(86_400)
  pollIntervalSeconds?: number;

  @IsOptional()
  @IsBoolean()
  enabled?: boolean;
}

export class EhrEndpointValidationError extends Error {
  override name = 'EhrEndpointValidationError';
  constructor(readonly problems: string[]) {
    super(`invalid EHR endpoint: ${problems.join('; ')}`);
  }
}

/** A private JWK the connector can sign assertions with (RSA ≥ 2048 or EC P-384), with a kid. */
export function privateJwkProblems(jwk: Record<string, unknown>): string[] {
  if (typeof jwk.kid !== 'string' || jwk.kid === '')
    return ['privateJwk needs a kid (the EHR finds its public key by it)'];
  if (typeof jwk.d !== 'string') return ['privateJwk must be a private key (d is missing)'];
  if (JSON.stringify(jwk).length > 16_384) return ['privateJwk is too large'];
  try {
    const key = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
    const type = key.asymmetricKeyType;
    if (type === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048) return [];
    if (type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'secp384r1') return [];
    return ['privateJwk must be an RSA key of 2048 bits or more or an EC P-384 key'];
  } catch {
    // The parser's message is not repeated: it may quote the key.
    return ['privateJwk is not a valid private JWK'];
  }
}

export const originOf = (url: string): string | undefined => {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
};

export interface EhrEndpointRules {
  /**
   * Origins a token URL may have besides the endpoint's own (EHR_TOKEN_URL_ALLOWED_ORIGINS): an
   * EHR whose authorization server lives elsewhere, allowed by the operator.
   */
  allowedTokenOrigins?: readonly string[];
}

/** Whether the connector may send an assertion for `endpoint` to `tokenUrl`. */
export const tokenUrlAllowed = (
  baseUrl: string,
  tokenUrl: string,
  rules: EhrEndpointRules = {},
): boolean => {
  const origin = originOf(tokenUrl);
  return (
    origin !== undefined &&
    (origin === originOf(baseUrl) || (rules.allowedTokenOrigins ?? []).includes(origin))
  );
};

/** Validates untrusted input (CLI flags, HTTP bodies) into an EhrEndpointInput. */
export function parseEhrEndpointInput(
  raw: unknown,
  rules: EhrEndpointRules = {},
): EhrEndpointInput {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw new EhrEndpointValidationError(['the endpoint must be an object']);
  if ('privateJwkFile' in raw) {
    throw new EhrEndpointValidationError([
      'privateJwkFile is not accepted: the connector reads no key files; send the key as privateJwk (stored encrypted) or use npm run cli -- ehr:add --jwk-file',
    ]);
  }
  const input = plainToInstance(EhrEndpointInput, raw);
  const errors = validateSync(input, { whitelist: true, forbidNonWhitelisted: true });
  const problems = errors.flatMap((e) =>
    Object.values(e.constraints ?? { [e.property]: 'invalid' }),
  );
  if (problems.length === 0 && input.auth === 'smart-backend') {
    problems.push(...privateJwkProblems(input.privateJwk as Record<string, unknown>));
    if (!tokenUrlAllowed(input.baseUrl, input.tokenUrl as string, rules))
      problems.push(
        "tokenUrl must have the baseUrl's origin (or one the operator allows: EHR_TOKEN_URL_ALLOWED_ORIGINS)",
      );
  }
  if (problems.length === 0 && input.auth !== 'smart-backend' && input.privateJwk !== undefined)
    problems.push('privateJwk goes with auth smart-backend only');
  if (problems.length > 0) throw new EhrEndpointValidationError(problems);
  return input;
}
