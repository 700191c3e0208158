import type { ReferralState } from '@carerelay/contracts';

/**
 * The referral workflow as pure decisions. The orchestrator (referral-workflow.service.ts) feeds
 * facts in — consent, routing candidates, the CBO Task's status, deadline breaches — and carries
 * out the commands that come back; nothing here does I/O.
 */

export interface ReferralSnapshot {
  id: string;
  state: ReferralState;
  attempt: number;
  targetOrganizationId: string | null;
  cboTaskId: string | null;
  triedOrganizationIds: string[];
}

export interface RoutingPolicy {
  /** Routing attempts before a coordinator has to step in. */
  maxAttempts: number;
  /** Where a referral goes when every match declined: on-hold for a coordinator, or failed. */
  whenExhausted: 'on-hold' | 'failed';
}

export const DEFAULT_ROUTING_POLICY: RoutingPolicy = { maxAttempts: 3, whenExhausted: 'on-hold' };

export interface RouteCandidate {
  organizationId: string;
  serviceId: string;
}

export type SourceTaskStatus =
  | 'requested'
  | 'accepted'
  | 'rejected'
  | 'in-progress'
  | 'on-hold'
  | 'completed'
  | 'failed'
  | 'cancelled';

export type Command =
  | { kind: 'create-cbo-task'; attempt: number; organizationId: string; serviceId: string }
  | { kind: 'cancel-cbo-task'; cboTaskId: string; reason: string }
  | {
      kind: 'update-source-task';
      status: SourceTaskStatus;
      statusReason?: string;
      businessStatus?: string;
      /** The CBO Task's output as of the change decided on, copied onto the source Task. */
      output?: unknown[];
      /** Steps stored before `output` was carried: read the CBO Task's output when carried out. */
      copyOutputFromCboTask?: boolean;
    }
  | { kind: 'complete-source-service-request' };

export interface Decision {
  state: ReferralState;
  /** The states to announce on referral.events.v1, in order. */
  events: Array<{ state: ReferralState; reason?: string; organizationId?: string }>;
  commands: Command[];
  patch: Partial<ReferralSnapshot>;
}

const OPEN_STATES: ReadonlySet<ReferralState> = new Set([
  'requested',
  'awaiting-consent',
  'routed',
  'rerouted',
  'accepted',
  'in-progress',
  'on-hold',
]);
export const isOpen = (state: ReferralState): boolean => OPEN_STATES.has(state);

const nothing = (referral: ReferralSnapshot): Decision => ({
  state: referral.state,
  events: [],
  commands: [],
  patch: {},
});

/** A new referral, or one whose consent arrived: route it if the patient consents. */
export function onConsentKnown(referral: ReferralSnapshot, consented: boolean): Decision | 'route' {
  if (referral.state !== 'requested' && referral.state !== 'awaiting-consent') {
    return nothing(referral);
  }
  if (consented) return 'route';
  if (referral.state === 'awaiting-consent') return nothing(referral);
  return {
    state: 'awaiting-consent',
    events: [{ state: 'awaiting-consent', reason: 'No active consent covers disclosure to a CBO' }],
    commands: [
      { kind: 'update-source-task', status: 'requested', businessStatus: 'awaiting-consent' },
    ],
    patch: { state: 'awaiting-consent' },
  };
}

/** Picks the next candidate not tried yet; when none is left (or attempts ran out), gives up. */
export interface RerouteCause {
  /** What ended the previous attempt, announced before the next one. */
  event: { state: ReferralState; reason?: string; organizationId?: string };
  commands: Command[];
}

export function decideRoute(
  referral: ReferralSnapshot,
  candidates: RouteCandidate[],
  policy: RoutingPolicy = DEFAULT_ROUTING_POLICY,
  cause?: RerouteCause,
): Decision {
  const decision = chooseRoute(referral, candidates, policy);
  if (!cause) return decision;
  return {
    ...decision,
    events: [cause.event, ...decision.events],
    commands: [...cause.commands, ...decision.commands],
    patch: { cboTaskId: null, ...decision.patch },
  };
}

function chooseRoute(
  referral: ReferralSnapshot,
  candidates: RouteCandidate[],
  policy: RoutingPolicy,
): Decision {
  const tried = new Set(referral.triedOrganizationIds);
  const next = candidates.find((candidate) => !tried.has(candidate.organizationId));
  if (!next || referral.attempt >= policy.maxAttempts) {
    const reason =
      referral.attempt >= policy.maxAttempts && next
        ? `No CBO accepted after ${referral.attempt} routing attempts`
        : referral.attempt > 0
          ? `Every matching CBO declined or did not respond (${referral.attempt} tried)`
          : 'No matching CBO service is available';
    const state: ReferralState = policy.whenExhausted;
    return {
      state,
      events: [{ state, reason }],
      commands: [
        {
          kind: 'update-source-task',
          status: policy.whenExhausted,
          statusReason: reason,
          businessStatus: policy.whenExhausted === 'on-hold' ? 'needs-coordinator' : 'no-match',
        },
      ],
      patch: { state },
    };
  }
  const attempt = referral.attempt + 1;
  const state: ReferralState = attempt > 1 ? 'rerouted' : 'routed';
  return {
    state,
    events: [
      ...(attempt > 1 ? [{ state: 'rerouted' as const, organizationId: next.organizationId }] : []),
      { state: 'routed' as const, organizationId: next.organizationId },
    ],
    commands: [
      {
        kind: 'create-cbo-task',
        attempt,
        organizationId: next.organizationId,
        serviceId: next.serviceId,
      },
      // The platform, owner of the source Task, accepts the referral once it has placed it.
      { kind: 'update-source-task', status: 'accepted', businessStatus: 'routed' },
    ],
    patch: {
      state: 'routed',
      attempt,
      targetOrganizationId: next.organizationId,
      triedOrganizationIds: [...referral.triedOrganizationIds, next.organizationId],
    },
  };
}

export interface CboTaskFacts {
  taskId: string;
  status: string;
  statusReason?: string;
  output?: unknown[];
}

/** Mirrors the CBO's Task onto the source Task; a rejection sends the referral to the next match. */
export function onCboTaskChanged(
  referral: ReferralSnapshot,
  task: CboTaskFacts,
): Decision | 'reroute' {
  if (task.taskId !== referral.cboTaskId || !isOpen(referral.state)) return nothing(referral);
  const mirror = (
    state: ReferralState,
    status: SourceTaskStatus,
    extra: Command[] = [],
  ): Decision => {
    if (referral.state === state) return nothing(referral);
    return {
      state,
      events: [
        {
          state,
          reason: task.statusReason,
          organizationId: referral.targetOrganizationId ?? undefined,
        },
      ],
      // The extra commands (completing the ServiceRequest) go first: an EHR that sees its Task
      // completed then finds the order completed too, never a completed Task on an active order.
      commands: [
        ...extra,
        {
          kind: 'update-source-task',
          status,
          statusReason: task.statusReason,
          businessStatus: state,
          ...((status === 'completed' || status === 'in-progress' || status === 'on-hold') &&
          task.output
            ? { output: task.output }
            : {}),
        },
      ],
      patch: { state },
    };
  };
  switch (task.status) {
    case 'accepted':
      return mirror('accepted', 'accepted');
    case 'in-progress':
      return mirror('in-progress', 'in-progress');
    case 'on-hold':
      return mirror('on-hold', 'on-hold');
    case 'completed':
      return mirror('completed', 'completed', [{ kind: 'complete-source-service-request' }]);
    case 'failed':
      return mirror('failed', 'failed');
    case 'rejected':
      return 'reroute';
    default:
      return nothing(referral);
  }
}

export function rejectionCause(referral: ReferralSnapshot, task: CboTaskFacts): RerouteCause {
  return {
    event: {
      state: 'rejected',
      reason: task.statusReason ?? 'Declined by the CBO',
      organizationId: referral.targetOrganizationId ?? undefined,
    },
    commands: [],
  };
}

/** The CBO did not accept in time: its Task is withdrawn and the next match gets the referral. */
export function acceptanceBreachCause(
  referral: ReferralSnapshot,
  attempt: number,
): RerouteCause | undefined {
  if (referral.state !== 'routed' || referral.attempt !== attempt || !referral.cboTaskId) {
    return undefined;
  }
  const reason = 'Not accepted before the acceptance deadline';
  return {
    event: {
      state: 'rejected',
      reason,
      organizationId: referral.targetOrganizationId ?? undefined,
    },
    commands: [{ kind: 'cancel-cbo-task', cboTaskId: referral.cboTaskId, reason }],
  };
}

/** Consent withdrawn: the CBO's open Task is cancelled and the referral waits for consent again. */
export function onConsentRevoked(
  referral: ReferralSnapshot,
  organizationId: string | null,
): Decision {
  if (!isOpen(referral.state)) return nothing(referral);
  const affects = organizationId === null || organizationId === referral.targetOrganizationId;
  if (!affects) return nothing(referral);
  const reason = 'Patient revoked consent to share information';
  const commands: Command[] = [];
  if (referral.cboTaskId && referral.state !== 'awaiting-consent') {
    commands.push({ kind: 'cancel-cbo-task', cboTaskId: referral.cboTaskId, reason });
  }
  commands.push({
    kind: 'update-source-task',
    status:
      referral.state === 'requested' || referral.state === 'awaiting-consent'
        ? 'requested'
        : 'on-hold',
    statusReason: reason,
    businessStatus: 'awaiting-consent',
  });
  return {
    state: 'awaiting-consent',
    events: [{ state: 'awaiting-consent', reason }],
    commands,
    patch: { state: 'awaiting-consent', cboTaskId: null, targetOrganizationId: null },
  };
}

/** The requester cancelled its Task: withdraw the CBO's. */
export function onSourceCancelled(referral: ReferralSnapshot, reason?: string): Decision {
  if (!isOpen(referral.state)) return nothing(referral);
  return {
    state: 'cancelled',
    events: [{ state: 'cancelled', reason }],
    commands: referral.cboTaskId
      ? [
          {
            kind: 'cancel-cbo-task',
            cboTaskId: referral.cboTaskId,
            reason: reason ?? 'Cancelled by the referring organization',
          },
        ]
      : [],
    patch: { state: 'cancelled' },
  };
}
