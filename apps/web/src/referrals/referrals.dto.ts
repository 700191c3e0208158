import { IsIn, IsOptional, IsString, Length, Matches, ValidateIf } from 'class-validator';
import { REJECT_REASONS, type RejectReason } from './referral-actions';
import { INBOX_FILTERS, type InboxFilter } from './referral-view';

export class InboxQueryDto {
  @IsOptional()
  @IsIn(INBOX_FILTERS)
  filter?: InboxFilter;

  @IsOptional()
  @IsString()
  @Length(0, 100)
  q?: string;
}

export class ReferralIdParam {
  @Matches(/^[A-Za-z0-9\-.]{1,64}$/, { message: 'must be a referral id' })
  id!: string;
}

export class ReferralActionDto {
  @IsIn(['accept', 'reject', 'start', 'hold', 'resume', 'complete'])
  action!: 'accept' | 'reject' | 'start' | 'hold' | 'resume' | 'complete';

  @ValidateIf((d: ReferralActionDto) => d.action === 'reject')
  @IsIn(REJECT_REASONS)
  reason?: RejectReason;

  @IsOptional()
  @IsString()
  @Length(0, 500)
  text?: string;

  @ValidateIf((d: ReferralActionDto) => d.action === 'complete')
  @IsString()
  @Length(1, 500)
  outcome?: string;
}

/** The follow-up service's channels and outcomes of a contact attempt (it checks them too). */
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

export class ContactAttemptDto {
  @IsIn(CONTACT_CHANNELS)
  channel!: (typeof CONTACT_CHANNELS)[number];

  @IsIn(CONTACT_OUTCOMES)
  outcome!: (typeof CONTACT_OUTCOMES)[number];

  @IsOptional()
  @IsString()
  @Length(0, 2000)
  note?: string;
}

export class NoteDto {
  @IsString()
  @Matches(/\S/, { message: 'text must not be blank' })
  @Length(1, 4000)
  text!: string;
}
