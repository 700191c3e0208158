import { IsIn, IsISO8601, IsOptional, Matches } from 'class-validator';
import { BREAKDOWN_DIMENSIONS, EQUITY_DIMENSIONS } from '../measures/dimensions';
import type { BreakdownDimension, EquityDimension } from '../measures/dimensions';

/** Codes, bands and organization ids: letters, digits and - . _ : + (e.g. `65+`, `2054-5`). */
const VALUE = /^[A-Za-z0-9\-._:+]{1,64}$/;
const VALUE_MESSAGE = '$property must be 1 to 64 letters, digits or - . _ : +';

export class CohortQueryDto {
  /** Start of the period (inclusive), on the referral's request time. Default: `to` − 30 days. */
  @IsOptional()
  @IsISO8601({ strict: true }, { message: '$property must be an ISO-8601 date or date-time' })
  from?: string;

  /** End of the period (exclusive). Default: now. */
  @IsOptional()
  @IsISO8601({ strict: true }, { message: '$property must be an ISO-8601 date or date-time' })
  to?: string;

  @IsOptional() @Matches(VALUE, { message: VALUE_MESSAGE }) cbo?: string;
  @IsOptional() @Matches(VALUE, { message: VALUE_MESSAGE }) category?: string;
  @IsOptional() @Matches(VALUE, { message: VALUE_MESSAGE }) requester?: string;
  @IsOptional() @Matches(VALUE, { message: VALUE_MESSAGE }) race?: string;
  @IsOptional() @Matches(VALUE, { message: VALUE_MESSAGE }) ethnicity?: string;
  @IsOptional() @Matches(VALUE, { message: VALUE_MESSAGE }) language?: string;
  @IsOptional() @Matches(VALUE, { message: VALUE_MESSAGE }) zip?: string;
  @IsOptional() @Matches(VALUE, { message: VALUE_MESSAGE }) payer?: string;
  @IsOptional() @Matches(VALUE, { message: VALUE_MESSAGE }) ageBand?: string;
  @IsOptional() @Matches(VALUE, { message: VALUE_MESSAGE }) sex?: string;
}

export class TableQueryDto extends CohortQueryDto {
  @IsOptional()
  @IsIn(['json', 'csv'], { message: '$property must be json or csv' })
  format?: 'json' | 'csv';
}

export class BreakdownQueryDto extends TableQueryDto {
  @IsIn(BREAKDOWN_DIMENSIONS, {
    message: `$property must be one of ${BREAKDOWN_DIMENSIONS.join(', ')}`,
  })
  by!: BreakdownDimension;
}

export class EquityQueryDto extends TableQueryDto {
  @IsIn(EQUITY_DIMENSIONS, { message: `$property must be one of ${EQUITY_DIMENSIONS.join(', ')}` })
  dimension!: EquityDimension;

  /** The group the others are compared with; default: the largest shown group. */
  @IsOptional()
  @Matches(VALUE, { message: VALUE_MESSAGE })
  reference?: string;
}
