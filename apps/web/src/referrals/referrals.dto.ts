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
