import {
  ReferralEventTypes,
  newCloudEvent,
  toKafkaRecord,
  type CloudEvent,
  type KafkaRecord,
  type ReferralEventV1,
  type ReferralState,
} from '@carerelay/contracts';

/**
 * A referral event as referral-service announces it: its source, the state's type, the referral
 * as subject, occurring now, the referral's id standing for its source Task. `more` adds or
 * overrides data (patient, target, requester, attempt, a past occurredAt).
 */
export function referralEvent(
  referralId: string,
  state: ReferralState,
  more: Partial<ReferralEventV1> = {},
): CloudEvent<ReferralEventV1> {
  return newCloudEvent({
    source: '/carerelay/referral-service',
    type: ReferralEventTypes[state].type,
    subject: referralId,
    data: {
      referralId,
      state,
      occurredAt: new Date().toISOString(),
      sourceTaskId: referralId,
      ...more,
    },
  });
}

/** The same event as the Kafka record referral-service sends: keyed by the referral's id. */
export function referralEventRecord(
  referralId: string,
  state: ReferralState,
  more: Partial<ReferralEventV1> = {},
): KafkaRecord {
  return toKafkaRecord(referralEvent(referralId, state, more), referralId);
}
