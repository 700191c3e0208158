import { MessagingTables1732300000000 } from '@carerelay/messaging';
import { Referrals1732300000100 } from './1732300000100-referrals';

export const REFERRAL_MIGRATIONS = [MessagingTables1732300000000, Referrals1732300000100];
