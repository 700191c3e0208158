import { MessagingTables1732300000000 } from '@carerelay/messaging';
import { Followup1732300000400 } from './1732300000400-followup';

export const FOLLOWUP_MIGRATIONS = [MessagingTables1732300000000, Followup1732300000400];
