import { MessagingTables1732300000000 } from '@carerelay/messaging';
import { Referrals1732300000100 } from './1732300000100-referrals';
import { Routing1732300000200 } from './1732300000200-routing';
import { Reconciliation1732300000300 } from './1732300000300-reconciliation';
import { WorkflowSteps1732300000400 } from './1732300000400-workflow-steps';

export const REFERRAL_MIGRATIONS = [
  MessagingTables1732300000000,
  Referrals1732300000100,
  Routing1732300000200,
  Reconciliation1732300000300,
  WorkflowSteps1732300000400,
];
