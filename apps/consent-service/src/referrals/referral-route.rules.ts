import {
  ReferralEventTypes,
  type CloudEvent,
  type ReferralEventV1,
  type ReferralState,
} from '@carerelay/contracts';

/**
 * The referral events that can change a referral's route: the first ones name its patient, and a
 * routing names the organization. Every referral event carries the referral's current patient and
 * target organization, so the others (accepted, in-progress, completed, ...) only repeat them.
 */
export const ROUTE_SETTING_STATES: ReadonlySet<ReferralState> = new Set<ReferralState>([
  'requested',
  'awaiting-consent',
  'routed',
  'rerouted',
]);

const referralEventTypes = new Set(Object.values(ReferralEventTypes).map((d) => d.type));

/** A referral event the route passes over, told from the event alone (no transaction for it). */
export const routeUnchangedBy = (event: CloudEvent): boolean =>
  referralEventTypes.has(event.type) &&
  !ROUTE_SETTING_STATES.has((event.data as ReferralEventV1).state);
