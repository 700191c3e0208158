import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional, Matches } from 'class-validator';
import { BREAKDOWN_DIMENSIONS, EQUITY_DIMENSIONS, PERIOD_DIMENSIONS } from '../measures/dimensions';
import type { BreakdownDimension, EquityDimension, PeriodDimension } from '../measures/dimensions';

/** Codes, bands and organization ids: letters, digits and - . _ : + (e.g. `65+`, `2054-5`). */
const VALUE = /^[A-Za-z0-9\-._:+]{1,64}$/;
const VALUE_MESSAGE = '$property must be 1 to 64 letters, digits or - . _ : +';

export class CohortQueryDto {
  /** Start of the period (inclusive), on the referral's request time. Default: `to` − 30 days. */
  @ApiPropertyOptional({
    description:
      "Start of the period (inclusive), on the referral's request time. Default: `to` − 30 days.",
    example: '2026-01-01',
  })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: '$property must be an ISO-8601 date or date-time' })
  from?: string;

  /** End of the period (exclusive). Default: now. */
  @ApiPropertyOptional({
    description: 'End of the period (exclusive). Default: now. At most 3660 days after `from`.',
  })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: '$property must be an ISO-8601 date or date-time' })
  to?: string;

  @ApiPropertyOptional({
    description: 'CBO (organization id) the referral was last routed to; `unknown` for none',
    pattern: VALUE.source,
  })
  @IsOptional()
  @Matches(VALUE, { message: VALUE_MESSAGE })
  cbo?: string;

  @ApiPropertyOptional({
    description: 'SDOH service category code (e.g. food-insecurity); `unknown` for none',
    pattern: VALUE.source,
  })
  @IsOptional()
  @Matches(VALUE, { message: VALUE_MESSAGE })
  category?: string;

  @ApiPropertyOptional({
    description: 'Referring organization id; `unknown` for none',
    pattern: VALUE.source,
  })
  @IsOptional()
  @Matches(VALUE, { message: VALUE_MESSAGE })
  requester?: string;

  @ApiPropertyOptional({
    description: 'US Core race (OMB category code, e.g. 2054-5); `unknown` for none',
    pattern: VALUE.source,
  })
  @IsOptional()
  @Matches(VALUE, { message: VALUE_MESSAGE })
  race?: string;

  @ApiPropertyOptional({
    description: 'US Core ethnicity (OMB code, e.g. 2135-2); `unknown` for none',
    pattern: VALUE.source,
  })
  @IsOptional()
  @Matches(VALUE, { message: VALUE_MESSAGE })
  ethnicity?: string;

  @ApiPropertyOptional({
    description: 'Preferred language (BCP 47, e.g. es); `unknown` for none',
    pattern: VALUE.source,
  })
  @IsOptional()
  @Matches(VALUE, { message: VALUE_MESSAGE })
  language?: string;

  @ApiPropertyOptional({
    description: 'ZIP of the home address; `unknown` for none',
    pattern: VALUE.source,
  })
  @IsOptional()
  @Matches(VALUE, { message: VALUE_MESSAGE })
  zip?: string;

  @ApiPropertyOptional({
    description: 'Payer type (PHDSC source of payment code); `unknown` for none',
    pattern: VALUE.source,
  })
  @IsOptional()
  @Matches(VALUE, { message: VALUE_MESSAGE })
  payer?: string;

  @ApiPropertyOptional({
    description: 'Age band (0-17, 18-34, 35-49, 50-64, 65+); `unknown` for none',
    pattern: VALUE.source,
  })
  @IsOptional()
  @Matches(VALUE, { message: VALUE_MESSAGE })
  ageBand?: string;

  @ApiPropertyOptional({
    description: 'Administrative sex; `unknown` for none',
    pattern: VALUE.source,
  })
  @IsOptional()
  @Matches(VALUE, { message: VALUE_MESSAGE })
  sex?: string;
}

export class TableQueryDto extends CohortQueryDto {
  @ApiPropertyOptional({ enum: ['json', 'csv'], description: 'csv: the table as RFC 4180 CSV' })
  @IsOptional()
  @IsIn(['json', 'csv'], { message: '$property must be json or csv' })
  format?: 'json' | 'csv';
}

export class BreakdownQueryDto extends TableQueryDto {
  @ApiProperty({ enum: BREAKDOWN_DIMENSIONS })
  @IsIn(BREAKDOWN_DIMENSIONS, {
    message: `$property must be one of ${BREAKDOWN_DIMENSIONS.join(', ')}`,
  })
  by!: BreakdownDimension;
}

export class EquityQueryDto extends TableQueryDto {
  @ApiProperty({ enum: EQUITY_DIMENSIONS })
  @IsIn(EQUITY_DIMENSIONS, { message: `$property must be one of ${EQUITY_DIMENSIONS.join(', ')}` })
  dimension!: EquityDimension;

  /** The group the others are compared with; default: the largest shown group. */
  @ApiPropertyOptional({
    description: 'The group the others are compared with; default: the largest shown group',
  })
  @IsOptional()
  @Matches(VALUE, { message: VALUE_MESSAGE })
  reference?: string;
}

export class TimeSeriesQueryDto extends TableQueryDto {
  @ApiPropertyOptional({ enum: PERIOD_DIMENSIONS, description: 'Default: week (ISO, from Monday)' })
  @IsOptional()
  @IsIn(PERIOD_DIMENSIONS, { message: `$property must be one of ${PERIOD_DIMENSIONS.join(', ')}` })
  period?: PeriodDimension;
}
