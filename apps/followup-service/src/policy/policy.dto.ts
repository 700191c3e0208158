import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsDefined,
  IsIn,
  IsOptional,
  Matches,
  ValidateNested,
} from 'class-validator';
import { ID_PATTERN } from '@carerelay/http';
import { IsDurationSpec, IsLocalDate, IsTimeZone } from '../http/validation';
import { CalendarKind } from './business-time';
import { DurationSpec } from './duration';

export class DeadlineRuleDto {
  @IsDefined()
  @IsDurationSpec()
  within!: DurationSpec;

  /** `business`: whole days are business days in the network's time zone. */
  @IsOptional()
  @IsIn(['business', 'calendar'])
  calendar?: CalendarKind;

  /** Emit `followup.due` this long before the deadline. */
  @IsOptional()
  @IsDurationSpec()
  warnBefore?: DurationSpec;
}

/** PUT /policies/:networkId */
export class PolicyDto {
  @IsOptional()
  @IsTimeZone()
  timeZone?: string;

  @IsOptional()
  @IsArray()
  @ArrayMaxSize(366)
  @IsLocalDate({ each: true })
  holidays?: string[];

  @IsDefined()
  @ValidateNested()
  @Type(() => DeadlineRuleDto)
  acceptance!: DeadlineRuleDto;

  /** Inactivity reminders, each counted from the latest activity. */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(20)
  @IsDurationSpec({ each: true })
  reminders?: DurationSpec[];

  @IsDefined()
  @ValidateNested()
  @Type(() => DeadlineRuleDto)
  closure!: DeadlineRuleDto;

  /** Requester and CBO organizations whose referrals follow this policy. */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(10_000)
  @Matches(ID_PATTERN, { each: true, message: 'each value in organizations must be an id' })
  organizations?: string[];
}
