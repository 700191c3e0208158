import { MessagingTables1732300000000 } from '@carerelay/messaging';
import { AUDIT_MIGRATIONS } from './audit/migrations';
import { AUTH_MIGRATIONS } from './auth/migrations';
import { FhirConsentAccess1732700000000 } from './store/consent-access.migration';
import { FhirStoreTables1732400000000 } from './store/fhir-store.migration';
import { FhirSearchIndexComposite1733200000000 } from './store/search-index-composite.migration';
import { SubscriptionTables1732700000000 } from './subscriptions/subscription-tables.migration';

/** The store's own tables: the outbox (libs/messaging) and the versioned resource store. */
export const FHIR_API_MIGRATIONS = [
  MessagingTables1732300000000,
  FhirStoreTables1732400000000,
  FhirSearchIndexComposite1733200000000,
];

/**
 * Every migration of the fhir-api schema, in order: the store's, then auth (clients, jti, signing
 * key), audit (audit_events) and the consent-gated access of CBOs (patient_id, access_grants,
 * consent_rules), and the Subscriptions Backport's tables. The app and the CLI (`npm run cli -- clients:add …`) both run
 * exactly this list, whether or not auth is enabled, so that they never disagree on the schema.
 */
export const FHIR_API_ALL_MIGRATIONS = [
  ...FHIR_API_MIGRATIONS,
  ...AUTH_MIGRATIONS,
  ...AUDIT_MIGRATIONS,
  FhirConsentAccess1732700000000,
  SubscriptionTables1732700000000,
];
