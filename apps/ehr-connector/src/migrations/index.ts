import { MessagingTables1732300000000 } from '@carerelay/messaging';
import { EhrConnectorTables1732600000000 } from './ehr-connector-tables.migration';
import { EhrEndpointCredentials1733100000000 } from './endpoint-credentials.migration';
import { EhrSubscriptions1733500000000 } from './ehr-subscriptions.migration';
import { EhrConnectorPullRefusals1732800000000 } from './pull-refusals.migration';
import { EhrConnectorPullVersions1733400000000 } from './pull-versions.migration';
import { EhrConnectorRemoteReferrals1733600000000 } from './remote-referrals.migration';

export const EHR_CONNECTOR_MIGRATIONS = [
  MessagingTables1732300000000,
  EhrConnectorTables1732600000000,
  EhrConnectorPullRefusals1732800000000,
  EhrEndpointCredentials1733100000000,
  EhrConnectorPullVersions1733400000000,
  EhrSubscriptions1733500000000,
  EhrConnectorRemoteReferrals1733600000000,
];
