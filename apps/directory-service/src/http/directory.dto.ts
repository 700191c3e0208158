import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsEmail,
  IsIn,
  IsInt,
  IsISO8601,
  IsNotEmpty,
  IsNumber,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import {
  CAPACITY_STATUSES,
  ELIGIBILITY_OPERATORS,
  SDOH_CATEGORIES,
  WEEKDAYS,
  type CapacityStatus,
  type EligibilityOperator,
  type SdohCategory,
  type ServiceStatus,
  type Weekday,
} from '@carerelay/directory';
import { ID_MESSAGE, ID_PATTERN } from '@carerelay/http';
import {
  IsEligibilityValue,
  IsLanguageTag,
  IsNumberFor,
  IsNotBelow,
  IsTimeAfter,
  IsZipCode,
} from './validation';

const HH_MM = /^([01]\d|2[0-3]):[0-5]\d$/;
const idOptions = { message: `$property ${ID_MESSAGE}` };
const eachId = { each: true, message: `$property ${ID_MESSAGE}` };

export class OrganizationIdentifierDto {
  /** A FHIR identifier system (URI), e.g. urn:oid:2.16.840.1.113883.4.4 for an EIN. */
  @IsString()
  @IsNotEmpty()
  @MaxLength(500)
  system!: string;

  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  value!: string;

  @IsOptional()
  @IsString()
  @MaxLength(100)
  type?: string;
}

export class OrganizationDto {
  /** Optional on POST (a new id is made); on PUT it must equal the URL's. */
  @IsOptional()
  @Matches(ID_PATTERN, idOptions)
  id?: string;

  @IsString()
  @IsNotEmpty()
  @MaxLength(300)
  name!: string;

  @IsOptional()
  @IsString()
  @MaxLength(5000)
  description?: string;

  /** Ids of the referral networks the organization belongs to. */
  @IsOptional()
  @IsArray()
  @ArrayUnique()
  @Matches(ID_PATTERN, eachId)
  networks?: string[];

  @IsOptional()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => OrganizationIdentifierDto)
  identifiers?: OrganizationIdentifierDto[];

  @IsOptional()
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  website?: string;

  @IsOptional()
  @IsEmail()
  email?: string;

  @IsOptional()
  @IsString()
  @MaxLength(50)
  phone?: string;
}

export class GeoPointDto {
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(-90)
  @Max(90)
  lat!: number;

  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(-180)
  @Max(180)
  lon!: number;
}

export class PostalAddressDto {
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(4)
  @IsString({ each: true })
  @IsNotEmpty({ each: true })
  line!: string[];

  @IsString()
  @IsNotEmpty()
  city!: string;

  /** Two-letter state code. */
  @Matches(/^[A-Z]{2}$/, { message: '$property must be a two-letter state code (IL)' })
  state!: string;

  @IsZipCode()
  postalCode!: string;

  @IsOptional()
  @Matches(/^[A-Z]{2}$/, { message: '$property must be a two-letter country code (US)' })
  country?: string;
}

export class LocationDto {
  @IsOptional()
  @Matches(ID_PATTERN, idOptions)
  id?: string;

  @Matches(ID_PATTERN, idOptions)
  organizationId!: string;

  @IsString()
  @IsNotEmpty()
  @MaxLength(300)
  name!: string;

  @IsOptional()
  @ValidateNested()
  @Type(() => PostalAddressDto)
  address?: PostalAddressDto;

  @IsOptional()
  @ValidateNested()
  @Type(() => GeoPointDto)
  coordinates?: GeoPointDto;
}

export class CodingDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(500)
  system!: string;

  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  code!: string;

  @IsOptional()
  @IsString()
  @MaxLength(300)
  display?: string;
}

export const AREA_KINDS = ['postal-codes', 'radius'] as const;
const isZipArea = (area: ServiceAreaDto) => area.kind === 'postal-codes';
const isRadiusArea = (area: ServiceAreaDto) => area.kind === 'radius';

/** A ZIP list (`kind: postal-codes`) or a circle (`kind: radius`); the other kind's fields are refused. */
export class ServiceAreaDto {
  @IsIn(AREA_KINDS)
  kind!: (typeof AREA_KINDS)[number];

  @ValidateIf(isZipArea)
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(2000)
  @IsZipCode({ each: true })
  postalCodes?: string[];

  @ValidateIf(isRadiusArea)
  @ValidateNested()
  @Type(() => GeoPointDto)
  center?: GeoPointDto;

  @ValidateIf(isRadiusArea)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0.1)
  @Max(500)
  radiusKm?: number;

  @IsOptional()
  @Matches(ID_PATTERN, idOptions)
  locationId?: string;

  @IsOptional()
  @IsString()
  @MaxLength(500)
  description?: string;
}

const SINGLE_VALUE_OPS: readonly EligibilityOperator[] = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte'];
const NUMERIC_OPS: readonly EligibilityOperator[] = ['gt', 'gte', 'lt', 'lte'];

export class EligibilityRuleDto {
  /** The need attribute the rule tests: payer, veteran, household-size… */
  @Matches(/^[a-z][a-z0-9-]{0,63}$/, {
    message: '$property must be a lower-case attribute name (payer, household-size)',
  })
  attribute!: string;

  @IsIn(ELIGIBILITY_OPERATORS)
  op!: EligibilityOperator;

  @ValidateIf((rule: EligibilityRuleDto) => SINGLE_VALUE_OPS.includes(rule.op))
  @IsEligibilityValue()
  @IsNumberFor(NUMERIC_OPS)
  value?: string | number | boolean;

  @ValidateIf((rule: EligibilityRuleDto) => rule.op === 'in' || rule.op === 'not-in')
  @IsArray()
  @ArrayMinSize(1)
  @IsEligibilityValue({ each: true })
  values?: Array<string | number | boolean>;

  @IsOptional()
  @IsString()
  @MaxLength(500)
  description?: string;
}

export class EligibilityDto {
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(130)
  minAge?: number;

  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(130)
  @IsNotBelow('minAge')
  maxAge?: number;

  @IsOptional()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => EligibilityRuleDto)
  rules?: EligibilityRuleDto[];

  @IsOptional()
  @IsString()
  @MaxLength(2000)
  description?: string;
}

export class ScheduleEntryDto {
  @IsArray()
  @ArrayMinSize(1)
  @ArrayUnique()
  @IsIn(WEEKDAYS, { each: true })
  days!: Weekday[];

  @Matches(HH_MM, { message: '$property must be a time as HH:MM (24 h)' })
  opensAt!: string;

  @Matches(HH_MM, { message: '$property must be a time as HH:MM (24 h)' })
  @IsTimeAfter('opensAt')
  closesAt!: string;

  @IsOptional()
  @IsString()
  @MaxLength(500)
  description?: string;
}

export class CapacityDto {
  @IsIn(CAPACITY_STATUSES)
  status!: CapacityStatus;

  @IsOptional()
  @IsInt()
  @Min(0)
  available?: number;

  @IsOptional()
  @IsInt()
  @Min(0)
  @IsNotBelow('available')
  maximum?: number;

  @IsOptional()
  @IsString()
  @MaxLength(100)
  unit?: string;

  /** When the capacity was last known; the time of the request when absent. */
  @IsOptional()
  @IsISO8601({ strict: true })
  updatedAt?: string;

  @IsOptional()
  @IsString()
  @MaxLength(1000)
  notes?: string;
}

export class ServiceDto {
  @IsOptional()
  @Matches(ID_PATTERN, idOptions)
  id?: string;

  @Matches(ID_PATTERN, idOptions)
  organizationId!: string;

  @IsString()
  @IsNotEmpty()
  @MaxLength(300)
  name!: string;

  @IsOptional()
  @IsString()
  @MaxLength(5000)
  description?: string;

  @IsOptional()
  @IsIn(['active', 'inactive'])
  status?: ServiceStatus;

  @IsArray()
  @ArrayMinSize(1)
  @ArrayUnique()
  @IsIn(SDOH_CATEGORIES, { each: true })
  categories!: SdohCategory[];

  @IsOptional()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => CodingDto)
  codes?: CodingDto[];

  /** Languages staff speak (BCP-47, ISO 639 or English names; stored as BCP-47). */
  @IsOptional()
  @IsArray()
  @IsLanguageTag({ each: true })
  languages?: string[];

  @IsOptional()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => ServiceAreaDto)
  serviceAreas?: ServiceAreaDto[];

  @IsOptional()
  @ValidateNested()
  @Type(() => EligibilityDto)
  eligibility?: EligibilityDto;

  @IsOptional()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => ScheduleEntryDto)
  schedule?: ScheduleEntryDto[];

  /** Absent: available. */
  @IsOptional()
  @ValidateNested()
  @Type(() => CapacityDto)
  capacity?: CapacityDto;

  @IsOptional()
  @IsArray()
  @ArrayUnique()
  @Matches(ID_PATTERN, eachId)
  locationIds?: string[];
}

export class ServiceQueryDto {
  @IsOptional()
  @IsIn(SDOH_CATEGORIES)
  category?: SdohCategory;

  @IsOptional()
  @IsZipCode()
  zip?: string;

  @IsOptional()
  @IsLanguageTag()
  language?: string;

  @IsOptional()
  @Matches(ID_PATTERN, idOptions)
  organizationId?: string;

  @IsOptional()
  @IsIn(['active', 'inactive'])
  status?: ServiceStatus;

  @IsOptional()
  @IsIn(CAPACITY_STATUSES)
  capacity?: CapacityStatus;
}

export class OrganizationQueryDto {
  @IsOptional()
  @Matches(ID_PATTERN, idOptions)
  network?: string;

  /** `true`: include organizations that were deleted (retired). */
  @IsOptional()
  @IsIn(['true', 'false'])
  includeRetired?: 'true' | 'false';
}

export class LocationQueryDto {
  @IsOptional()
  @Matches(ID_PATTERN, idOptions)
  organizationId?: string;

  @IsOptional()
  @IsZipCode()
  zip?: string;
}
