import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsISO8601,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
} from 'class-validator';
import { ID_PATTERN } from '@carerelay/http';

export const CONTACT_CHANNELS = [
  'phone',
  'sms',
  'email',
  'in-person',
  'video',
  'mail',
  'portal',
  'other',
] as const;
export const CONTACT_OUTCOMES = [
  'reached',
  'no-answer',
  'left-message',
  'busy',
  'wrong-number',
  'declined',
  'other',
] as const;
export const FOLLOWUP_STATUSES = [
  'resolved',
  'partially-resolved',
  'unresolved',
  'unable-to-contact',
  'declined',
  'other',
] as const;

/** POST /referrals/:referralId/contact-attempts */
export class ContactAttemptDto {
  @IsIn(CONTACT_CHANNELS)
  channel!: (typeof CONTACT_CHANNELS)[number];

  @IsIn(CONTACT_OUTCOMES)
  outcome!: (typeof CONTACT_OUTCOMES)[number];

  @IsOptional()
  @IsString()
  @MaxLength(4000)
  note?: string;

  /** When the attempt happened; now when absent. */
  @IsOptional()
  @IsISO8601({ strict: true, strictSeparator: true })
  at?: string;

  /** The organization of the case manager who made the attempt. */
  @IsOptional()
  @Matches(ID_PATTERN, { message: 'organizationId must be an id (letters, digits, - or .)' })
  organizationId?: string;
}

/** POST /referrals/:referralId/followup-outcomes */
export class FollowupOutcomeDto {
  @IsIn(FOLLOWUP_STATUSES)
  status!: (typeof FOLLOWUP_STATUSES)[number];

  @IsOptional()
  @IsString()
  @MaxLength(4000)
  note?: string;

  @IsOptional()
  @IsISO8601({ strict: true, strictSeparator: true })
  at?: string;

  @IsOptional()
  @Matches(ID_PATTERN, { message: 'organizationId must be an id (letters, digits, - or .)' })
  organizationId?: string;
}

/** How many referrals one GET /timers may name: an inbox page. */
export const TIMERS_BATCH_MAX = 100;

const commaList = ({ value }: { value: unknown }): unknown => {
  const parts = Array.isArray(value) ? value : [value];
  if (!parts.every((part) => typeof part === 'string')) return value;
  return (parts as string[]).flatMap((part) => part.split(',')).map((part) => part.trim());
};

/** GET /timers?referral=<id>,<id>,... (or the parameter repeated) */
export class TimersQuery {
  @Transform(commaList)
  @IsArray({ message: 'referral must be a comma-separated list of referral ids' })
  @ArrayMinSize(1, { message: 'referral must name at least one referral' })
  @ArrayMaxSize(TIMERS_BATCH_MAX, {
    message: `referral must name at most ${TIMERS_BATCH_MAX} referrals`,
  })
  @Matches(ID_PATTERN, {
    each: true,
    message: 'referral must hold referral ids (1-64 of A-Z a-z 0-9 - .)',
  })
  referral!: string[];
}
