import { MessagingTables1732300000000 } from '@carerelay/messaging';
import { Analytics1732300000600 } from './1732300000600-analytics';
import { AnalyticsChanges1732300000700 } from './1732300000700-analytics-changes';

export const ANALYTICS_MIGRATIONS = [
  MessagingTables1732300000000,
  Analytics1732300000600,
  AnalyticsChanges1732300000700,
];
