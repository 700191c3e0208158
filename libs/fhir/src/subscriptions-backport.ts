/**
 * Names of the FHIR Subscriptions R5 Backport IG on R4 (1.1.0): what CareRelay serves as a
 * notifier (fhir-api) and what it asks of an EHR as a subscriber (ehr-connector).
 */
export const TASK_TOPIC = 'http://hl7.org/fhir/us/sdoh-clinicalcare/SubscriptionTopic/Task';

const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';

export const BACKPORT_EXT = {
  filterCriteria: `${BACKPORT}/backport-filter-criteria`,
  heartbeat: `${BACKPORT}/backport-heartbeat-period`,
  timeout: `${BACKPORT}/backport-timeout`,
  payloadContent: `${BACKPORT}/backport-payload-content`,
  maxCount: `${BACKPORT}/backport-max-count`,
};

export const SUBSCRIPTION_PROFILE = `${BACKPORT}/backport-subscription`;
export const STATUS_PROFILE = `${BACKPORT}/backport-subscription-status-r4`;
