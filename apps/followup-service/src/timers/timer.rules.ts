import type { ReferralState } from '@carerelay/contracts';
import { addDuration } from '../policy/business-time';
import { DeadlineRule, FollowupPolicy } from '../policy/followup-policy';

export const TIMER_KINDS = ['acceptance', 'reminder', 'closure'] as const;
export type TimerKind = (typeof TIMER_KINDS)[number];
/** `warning` and `reminder` fire `followup.due`; `deadline` fires `followup.breached`. */
export type TimerStage = 'warning' | 'deadline' | 'reminder';

/** What the service remembers about one referral to decide on its timers. */
export interface ReferralTrack {
  referralId: string;
  networkId: string | null;
  /** The CBO of the current routing attempt. */
  organizationId: string | null;
  attempt: number | null;
  /** occurredAt of the event that opened the current attempt. */
  attemptAt: Date | null;
  attemptRouted: boolean;
  attemptAnswered: boolean;
  closureFrom: Date | null;
  lastActivityAt: Date | null;
  /** Set by completed, cancelled or failed: nothing is ever scheduled again. */
  closedAt: Date | null;
  closedAs: ReferralState | null;
}

export interface ReferralFact {
  state: ReferralState;
  occurredAt: Date;
  attempt?: number;
  targetOrganizationId?: string;
}

export interface NewTimer {
  kind: TimerKind;
  stage: TimerStage;
  attempt: number | null;
  /** Which reminder (0, 1, …) or 0. */
  seq: number;
  /** When it fires. */
  dueAt: Date;
  /** The deadline it is about (for reminders: the same as dueAt). */
  deadlineAt: Date;
  organizationId: string | null;
}

export interface CancelRule {
  kinds: readonly TimerKind[];
  /** Only timers of this attempt… */
  attempt?: number;
  /** …or of attempts before this one. */
  attemptBelow?: number;
  reason: string;
}

export interface TimerPlan {
  track: ReferralTrack;
  cancel: CancelRule[];
  start: NewTimer[];
  /** Why parts of the fact were ignored (stale, duplicate, closed), for the log. */
  ignored: string[];
}

export const TERMINAL_STATES: readonly ReferralState[] = ['completed', 'cancelled', 'failed'];
const ROUTING_STATES: readonly ReferralState[] = ['routed', 'rerouted'];
/** States that show the CBO took the referral (or answered) for its attempt. */
const ANSWER_STATES: readonly ReferralState[] = ['accepted', 'in-progress', 'rejected'];

export function emptyTrack(referralId: string): ReferralTrack {
  return {
    referralId,
    networkId: null,
    organizationId: null,
    attempt: null,
    attemptAt: null,
    attemptRouted: false,
    attemptAnswered: false,
    closureFrom: null,
    lastActivityAt: null,
    closedAt: null,
    closedAs: null,
  };
}

function deadlineTimers(
  kind: TimerKind,
  rule: DeadlineRule,
  from: Date,
  policy: FollowupPolicy,
  attempt: number | null,
  organizationId: string | null,
): NewTimer[] {
  const deadlineAt = addDuration(from, rule.withinSeconds, rule.calendar, policy);
  const timers: NewTimer[] = [
    { kind, stage: 'deadline', attempt, seq: 0, dueAt: deadlineAt, deadlineAt, organizationId },
  ];
  const warn = rule.warnBeforeSeconds;
  if (warn && warn > 0) {
    const warnAt = new Date(deadlineAt.getTime() - warn * 1000);
    if (warnAt > from) {
      timers.push({
        kind,
        stage: 'warning',
        attempt,
        seq: 0,
        dueAt: warnAt,
        deadlineAt,
        organizationId,
      });
    }
  }
  return timers;
}

/** Inactivity reminders restart whenever the latest activity moves forward. */
function activity(plan: TimerPlan, at: Date, policy: FollowupPolicy): void {
  const track = plan.track;
  if (track.lastActivityAt && at <= track.lastActivityAt) return;
  track.lastActivityAt = at;
  if (track.closedAt) return;
  plan.cancel.push({ kinds: ['reminder'], reason: 'activity' });
  policy.reminderSeconds.forEach((seconds, seq) => {
    const dueAt = new Date(at.getTime() + seconds * 1000);
    plan.start.push({
      kind: 'reminder',
      stage: 'reminder',
      attempt: track.attempt,
      seq,
      dueAt,
      deadlineAt: dueAt,
      organizationId: track.organizationId,
    });
  });
}

function closureFrom(plan: TimerPlan, from: Date, policy: FollowupPolicy): void {
  const track = plan.track;
  if (track.closureFrom && track.closureFrom <= from) return;
  if (track.closureFrom) plan.cancel.push({ kinds: ['closure'], reason: 'earlier request' });
  track.closureFrom = from;
  plan.start.push(...deadlineTimers('closure', policy.closure, from, policy, null, null));
}

/** A routing attempt opens: its acceptance clock starts, older attempts' clocks stop. */
function routing(plan: TimerPlan, fact: ReferralFact, policy: FollowupPolicy): void {
  const track = plan.track;
  let attempt = fact.attempt;
  if (attempt === undefined) {
    // Without an attempt number only a later routing opens a new attempt.
    if (track.attemptAt && fact.occurredAt <= track.attemptAt) {
      plan.ignored.push(`${fact.state} is older than the current attempt`);
      return;
    }
    attempt = track.attempt === null ? 1 : track.attempt + (track.attemptRouted ? 1 : 0);
  }
  if (track.attempt !== null && attempt < track.attempt) {
    plan.ignored.push(`${fact.state} of attempt ${attempt} after attempt ${track.attempt}`);
    return;
  }
  if (track.attempt === attempt && track.attemptRouted) {
    plan.ignored.push(`attempt ${attempt} was already routed`);
    return;
  }
  const answered = track.attempt === attempt && track.attemptAnswered;
  if (track.attempt !== attempt) {
    plan.cancel.push({ kinds: ['acceptance'], attemptBelow: attempt, reason: `${fact.state}` });
  }
  track.attempt = attempt;
  track.attemptAt = fact.occurredAt;
  track.attemptRouted = true;
  track.attemptAnswered = answered;
  track.organizationId = fact.targetOrganizationId ?? track.organizationId;
  if (answered) {
    plan.ignored.push(`attempt ${attempt} was already answered`);
    return;
  }
  plan.start.push(
    ...deadlineTimers(
      'acceptance',
      policy.acceptance,
      fact.occurredAt,
      policy,
      attempt,
      track.organizationId,
    ),
  );
}

/** The CBO answered (accepted, started or rejected): the acceptance clock of that attempt stops. */
function answer(plan: TimerPlan, fact: ReferralFact): void {
  const track = plan.track;
  let attempt = fact.attempt;
  if (attempt === undefined) {
    if (track.attemptAt && fact.occurredAt < track.attemptAt) {
      plan.ignored.push(`${fact.state} is older than the current attempt`);
      return;
    }
    attempt = track.attempt ?? 1;
  }
  if (track.attempt !== null && attempt < track.attempt) {
    plan.ignored.push(`${fact.state} of attempt ${attempt} after attempt ${track.attempt}`);
    return;
  }
  if (track.attempt === null || attempt > track.attempt) {
    // The answer overtook its routing event: remember it so the routing starts no clock.
    plan.cancel.push({ kinds: ['acceptance'], attemptBelow: attempt, reason: fact.state });
    track.attempt = attempt;
    track.attemptAt = fact.occurredAt;
    track.attemptRouted = false;
    track.organizationId = fact.targetOrganizationId ?? track.organizationId;
  }
  track.attemptAnswered = true;
  plan.cancel.push({ kinds: ['acceptance'], attempt, reason: fact.state });
}

/**
 * What a referral event does to the referral's timers. Pure: the caller loads the track, applies
 * the cancellations and inserts the new timers in the event's inbox transaction.
 *
 * - requested: the closure clock starts (the earliest request wins);
 * - routed / rerouted: the acceptance clock of that attempt (re)starts, older attempts' stop;
 * - accepted / in-progress / rejected: the acceptance clock of that attempt stops;
 * - any event: inactivity reminders restart from the latest activity;
 * - completed / cancelled / failed: every clock stops, and nothing ever starts again.
 * Stale events (older attempt, older than the current attempt) change no clock.
 */
export function planReferralEvent(
  current: ReferralTrack,
  fact: ReferralFact,
  policy: FollowupPolicy,
): TimerPlan {
  const plan: TimerPlan = { track: { ...current }, cancel: [], start: [], ignored: [] };
  const track = plan.track;
  if (track.closedAt) {
    plan.ignored.push(`referral already ${track.closedAs ?? 'closed'}`);
    return plan;
  }
  if (TERMINAL_STATES.includes(fact.state)) {
    track.closedAt = fact.occurredAt;
    track.closedAs = fact.state;
    if (!track.lastActivityAt || fact.occurredAt > track.lastActivityAt) {
      track.lastActivityAt = fact.occurredAt;
    }
    plan.cancel.push({ kinds: TIMER_KINDS, reason: fact.state });
    return plan;
  }
  if (fact.state === 'requested') closureFrom(plan, fact.occurredAt, policy);
  else if (!track.closureFrom) closureFrom(plan, fact.occurredAt, policy);
  if (ROUTING_STATES.includes(fact.state)) routing(plan, fact, policy);
  if (ANSWER_STATES.includes(fact.state)) answer(plan, fact);
  activity(plan, fact.occurredAt, policy);
  return plan;
}

/** A contact attempt or follow-up outcome from a case manager: activity, nothing else. */
export function planActivity(current: ReferralTrack, at: Date, policy: FollowupPolicy): TimerPlan {
  const plan: TimerPlan = { track: { ...current }, cancel: [], start: [], ignored: [] };
  activity(plan, at, policy);
  return plan;
}
