import { MessagingTables1732300000000 } from '@carerelay/messaging';
import { Analytics1732300000600 } from './1732300000600-analytics';

export const ANALYTICS_MIGRATIONS = [MessagingTables1732300000000, Analytics1732300000600];
