import { MessagingTables1732300000000 } from '@carerelay/messaging';
import { WebAccounts1732900000000 } from './1732900000000-web-accounts';
import { ReferralNotes1733000000000 } from './1733000000000-referral-notes';

export const WEB_MIGRATIONS = [
  MessagingTables1732300000000,
  WebAccounts1732900000000,
  ReferralNotes1733000000000,
];
