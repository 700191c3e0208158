import { Transform } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsISO8601, IsOptional, Matches, ValidateIf } from 'class-validator';

/** A FHIR id, as the FHIR API issues them. */
export const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const CODE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const commaList = ({ value }: { value: unknown }): unknown => {
  const parts = Array.isArray(value) ? value : [value];
  if (!parts.every((part) => typeof part === 'string')) return value;
  return (parts as string[])
    .flatMap((part) => part.split(','))
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
};

/**
 * GET /consents/decision: may `organization` see `patient`'s data (with `labels`, for
 * `purpose`) at `at` (default now)? `referral` stands for the patient and the organization the
 * referral was routed to; explicit `patient` / `organization` win over it.
 */
export class DecisionQuery {
  @ValidateIf((query: DecisionQuery) => query.referral === undefined || query.patient !== undefined)
  @Matches(FHIR_ID, { message: 'patient must be a Patient id (1-64 of A-Z a-z 0-9 - .)' })
  patient?: string;

  @ValidateIf(
    (query: DecisionQuery) => query.referral === undefined || query.organization !== undefined,
  )
  @Matches(FHIR_ID, {
    message: 'organization must be an Organization id (1-64 of A-Z a-z 0-9 - .)',
  })
  organization?: string;

  @IsOptional()
  @Matches(FHIR_ID, { message: 'referral must be a referral (source Task) id' })
  referral?: string;

  @IsOptional()
  @Transform(commaList)
  @IsArray({ message: 'labels must be a comma-separated list of security label codes' })
  @ArrayMaxSize(20, { message: 'labels must hold at most 20 codes' })
  @Matches(LABEL, {
    each: true,
    message: 'labels must hold security label codes such as 42CFRPart2',
  })
  labels?: string[];

  @IsOptional()
  @Matches(CODE, { message: 'purpose must be a purpose-of-use code such as TREAT' })
  purpose?: string;

  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'at must be an ISO 8601 date-time' })
  at?: string;
}

export class PatientParams {
  @Matches(FHIR_ID, { message: 'id must be a Patient id (1-64 of A-Z a-z 0-9 - .)' })
  id!: string;
}
