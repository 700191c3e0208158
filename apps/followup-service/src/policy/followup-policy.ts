import { CalendarKind, WorkCalendar } from './business-time';

export const DEFAULT_NETWORK = 'default';

export interface DeadlineRule {
  /** Seconds until the deadline, counted on `calendar`. */
  withinSeconds: number;
  calendar: CalendarKind;
  /** A `followup.due` this long before the deadline; none when absent. */
  warnBeforeSeconds?: number;
}

/** A network's follow-up policy, durations normalized to seconds. */
export interface FollowupPolicy extends WorkCalendar {
  networkId: string;
  /** From each routing attempt until the CBO accepts. */
  acceptance: DeadlineRule;
  /** Inactivity reminders: seconds without any referral event or contact attempt. */
  reminderSeconds: number[];
  /** From the referral's request until it is completed, cancelled or failed. */
  closure: DeadlineRule;
  /** Organizations (requesters or CBOs) whose referrals this policy governs. */
  organizations: string[];
}

/** Accept within 2 business days; reminders after 24 h, 48 h and a week; close within 30 days. */
export const DEFAULT_POLICY: FollowupPolicy = {
  networkId: DEFAULT_NETWORK,
  timeZone: 'UTC',
  holidays: [],
  acceptance: { withinSeconds: 2 * 86_400, calendar: 'business' },
  reminderSeconds: [24 * 3_600, 48 * 3_600, 7 * 86_400],
  closure: { withinSeconds: 30 * 86_400, calendar: 'calendar' },
  organizations: [],
};
