import { IsInt, Max, Min } from 'class-validator';
import { ServiceConfig } from '@carerelay/config';

export class ReferralServiceConfig extends ServiceConfig {
  @IsInt()
  @Min(0)
  @Max(65535)
  REFERRAL_SERVICE_PORT = 8082;
}

export const REFERRAL_SCHEMA = 'referral';
export const REFERRAL_SERVICE_NAME = 'referral-service';
