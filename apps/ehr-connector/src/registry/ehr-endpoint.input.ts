import {
  ArrayNotEmpty,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
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

  /** A file holding the private JWK (with kid) whose public half the EHR has registered. */
  @ValidateIf((o: EhrEndpointInput) => o.auth === 'smart-backend')
  @IsString()
  @IsNotEmpty({ message: 'privateJwkFile is required with smart-backend' })
  privateJwkFile?: string;

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

/** Validates untrusted input (CLI flags, HTTP bodies) into an EhrEndpointInput. */
export function parseEhrEndpointInput(raw: unknown): EhrEndpointInput {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw new EhrEndpointValidationError(['the endpoint must be an object']);
  const input = plainToInstance(EhrEndpointInput, raw);
  const errors = validateSync(input, { whitelist: true, forbidNonWhitelisted: true });
  if (errors.length > 0) {
    throw new EhrEndpointValidationError(
      errors.flatMap((e) => Object.values(e.constraints ?? { [e.property]: 'invalid' })),
    );
  }
  return input;
}
