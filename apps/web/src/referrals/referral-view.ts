/**
 * What a case manager sees of a CBO Task: plain mapping of FHIR resources, no I/O. Patient data
 * only comes in when the FHIR API disclosed the Patient (consent); a redacted Task is "awaiting
 * consent".
 */
export type Resource = { resourceType: string; id?: string; [key: string]: unknown };

export const INBOX_FILTERS = [
  'all',
  'new',
  'accepted',
  'in-progress',
  'on-hold',
  'due-soon',
  'overdue',
  'closed',
] as const;
export type InboxFilter = (typeof INBOX_FILTERS)[number];

const TERMINAL = new Set(['completed', 'rejected', 'cancelled', 'failed']);
export const DUE_SOON_MS = 24 * 3600_000;

export interface DeadlinePolicy {
  acceptWithinHours: number;
  closeWithinDays: number;
}

export interface ReferralSummary {
  id: string;
  status: string;
  need: string;
  category?: string;
  requester?: string;
  authoredOn?: string;
  lastUpdated?: string;
  deadline?: string;
  /** Whether the deadline is the follow-up service's or the fixed fallback. */
  deadlineSource?: 'followup' | 'fallback';
  overdue: boolean;
  dueSoon: boolean;
  awaitingConsent: boolean;
}

const refId = (reference: unknown, type: string): string | undefined => {
  const ref = (reference as { reference?: string } | undefined)?.reference;
  const match = ref?.match(new RegExp(`(?:^|/)${type}/([A-Za-z0-9\\-.]{1,64})$`));
  return match?.[1];
};
export const taskFocusId = (task: Resource) => refId(task.focus, 'ServiceRequest');
export const taskPatientId = (task: Resource) => refId(task.for, 'Patient');
export const taskRequesterId = (task: Resource) => refId(task.requester, 'Organization');
export const taskOwnerId = (task: Resource) => refId(task.owner, 'Organization');
/** The referral a CBO Task belongs to: the source Task it is partOf (the follow-up service's key). */
export const taskReferralId = (task: Resource) =>
  refId((task.partOf as unknown[] | undefined)?.[0], 'Task');

export const CBO_TASK_IDENTIFIER = 'https://carerelay.example/fhir/identifier/cbo-task';

/** Which routing attempt a CBO Task is: its platform identifier is `<referral>-<attempt>`. */
export function taskAttempt(task: Resource): number | undefined {
  const identifiers = (task.identifier as Array<{ system?: string; value?: string }>) ?? [];
  const value = identifiers.find((i) => i.system === CBO_TASK_IDENTIFIER)?.value;
  const match = value?.match(/-(\d{1,6})$/);
  return match ? Number(match[1]) : undefined;
}

/** A timer of the follow-up service (GET /timers?referral=...), as far as we read it. */
export interface FollowupTimer {
  referralId?: string;
  kind: 'acceptance' | 'reminder' | 'closure';
  stage: 'warning' | 'deadline' | 'reminder';
  attempt: number | null;
  dueAt: string;
  deadlineAt: string;
  status: 'pending' | 'fired' | 'cancelled';
  createdAt?: string;
}

/** How many referrals one GET /timers of the follow-up service may name. */
export const TIMERS_BATCH_MAX = 100;

/** `ids` in lists of at most `size` (the follow-up service's batch bound). */
export function chunksOf<T>(ids: readonly T[], size = TIMERS_BATCH_MAX): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < ids.length; i += size) chunks.push(ids.slice(i, i + size));
  return chunks;
}

/**
 * The timers of a batch answer by referral: every asked referral gets its list (empty when it has
 * none); a timer of a referral not asked is ignored.
 */
export function timersByReferral(
  asked: readonly string[],
  timers: readonly FollowupTimer[],
): Map<string, FollowupTimer[]> {
  const byReferral = new Map(asked.map((id) => [id, [] as FollowupTimer[]]));
  for (const timer of timers) byReferral.get(timer.referralId ?? '')?.push(timer);
  return byReferral;
}

export interface Deadline {
  at: Date;
  /** When "due soon" starts: the policy's warning, when it has one. */
  warnFrom?: Date;
  source: 'followup' | 'fallback';
}

export function isAwaitingConsent(task: Resource): boolean {
  const security = ((task.meta as { security?: Array<{ code?: string }> })?.security ?? []).some(
    (s) => s.code === 'REDACTED',
  );
  const business = (task.businessStatus as { text?: string } | undefined)?.text;
  return security || /awaiting consent/i.test(business ?? '');
}

const codingText = (concept: unknown): string | undefined => {
  const c = concept as { text?: string; coding?: Array<{ display?: string; code?: string }> };
  return c?.text ?? c?.coding?.[0]?.display ?? c?.coding?.[0]?.code;
};

/** The need of a referral: the ServiceRequest's code and category. */
export function needOf(serviceRequest: Resource | undefined): { need: string; category?: string } {
  if (!serviceRequest) return { need: '' };
  const categories = (serviceRequest.category as unknown[] | undefined) ?? [];
  const category = categories
    .map((c) => (c as { coding?: Array<{ code?: string }> }).coding?.[0]?.code)
    .find((code) => code && code !== 'sdoh-category-unspecified');
  return { need: codingText(serviceRequest.code) ?? category ?? '', category };
}

/**
 * The deadline a case manager works to: acceptance while new, closure once accepted. The
 * follow-up service's timers decide (its network policy, business days, holidays); the fixed
 * fallback applies only to a referral it has no live timer for (not connected, or its events
 * not yet seen), so that the inbox still orders work when that service is down.
 */
export function deadlineOf(
  task: Resource,
  policy: DeadlinePolicy,
  timers?: readonly FollowupTimer[],
): Deadline | undefined {
  const authored = Date.parse(String(task.authoredOn ?? ''));
  if (TERMINAL.has(String(task.status))) return undefined;
  const fromTimers = timers && deadlineFromTimers(task, timers);
  if (fromTimers) return fromTimers;
  if (Number.isNaN(authored)) return undefined;
  if (task.status === 'requested')
    return { at: new Date(authored + policy.acceptWithinHours * 3600_000), source: 'fallback' };
  return { at: new Date(authored + policy.closeWithinDays * 86_400_000), source: 'fallback' };
}

/** The deadline timers of the follow-up service for this CBO Task's stage and attempt. */
export function deadlineFromTimers(
  task: Resource,
  timers: readonly FollowupTimer[],
): Deadline | undefined {
  const kind = task.status === 'requested' ? 'acceptance' : 'closure';
  const attempt = taskAttempt(task);
  const ofStage = (stage: FollowupTimer['stage']) =>
    timers
      .filter(
        (t) =>
          t.kind === kind &&
          t.stage === stage &&
          t.status !== 'cancelled' &&
          (kind !== 'acceptance' || attempt === undefined || t.attempt === attempt),
      )
      .sort((a, b) => String(b.createdAt ?? '').localeCompare(String(a.createdAt ?? '')))[0];
  const deadline = ofStage('deadline');
  if (!deadline) return undefined;
  const at = new Date(deadline.deadlineAt);
  if (Number.isNaN(at.getTime())) return undefined;
  const warning = ofStage('warning');
  const warnFrom = warning ? new Date(warning.dueAt) : undefined;
  return {
    at,
    ...(warnFrom && !Number.isNaN(warnFrom.getTime()) ? { warnFrom } : {}),
    source: 'followup',
  };
}

export function summarize(
  task: Resource,
  serviceRequest: Resource | undefined,
  organizationNames: ReadonlyMap<string, string>,
  policy: DeadlinePolicy,
  now: Date,
  context: { timers?: readonly FollowupTimer[]; referringOrganizationId?: string } = {},
): ReferralSummary {
  const deadline = deadlineOf(task, policy, context.timers);
  const left = deadline ? deadline.at.getTime() - now.getTime() : undefined;
  const warnFrom =
    deadline?.warnFrom?.getTime() ?? (deadline ? deadline.at.getTime() - DUE_SOON_MS : 0);
  // The referring organization (the hospital); the Task's own requester is the platform.
  const requesterId = context.referringOrganizationId ?? taskRequesterId(task);
  return {
    id: String(task.id),
    status: String(task.status),
    ...needOf(serviceRequest),
    requester: requesterId ? (organizationNames.get(requesterId) ?? requesterId) : undefined,
    authoredOn: task.authoredOn as string | undefined,
    lastUpdated: (task.meta as { lastUpdated?: string } | undefined)?.lastUpdated,
    deadline: deadline?.at.toISOString(),
    deadlineSource: deadline?.source,
    overdue: left !== undefined && left < 0,
    dueSoon: left !== undefined && left >= 0 && now.getTime() >= warnFrom,
    awaitingConsent: isAwaitingConsent(task),
  };
}

export function matchesFilter(summary: ReferralSummary, filter: InboxFilter): boolean {
  switch (filter) {
    case 'all':
      return true;
    case 'new':
      return summary.status === 'requested';
    case 'accepted':
    case 'in-progress':
    case 'on-hold':
      return summary.status === filter;
    case 'due-soon':
      return summary.dueSoon;
    case 'overdue':
      return summary.overdue;
    case 'closed':
      return TERMINAL.has(summary.status);
  }
}

/** Search over what the list shows (need, requester, id): case- and accent-insensitive. */
export function matchesSearch(summary: ReferralSummary, query: string): boolean {
  const fold = (s: string) => s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
  const q = fold(query.trim());
  if (!q) return true;
  return [summary.need, summary.category, summary.requester, summary.id, summary.status]
    .filter((v): v is string => typeof v === 'string')
    .some((v) => fold(v).includes(q));
}

export interface StatusChange {
  version?: string;
  status: string;
  at?: string;
  reason?: string;
}

/**
 * Every status change of a Task from its versions (any order): the first version and each one
 * whose status differs from the version before it. Versions that changed something else (the
 * platform's businessStatus, an output) are not status changes.
 */
export function statusChanges(versions: readonly Resource[]): StatusChange[] {
  const ordered = versions
    .filter((r) => r?.resourceType === 'Task')
    .map((r) => ({
      version: (r.meta as { versionId?: string } | undefined)?.versionId,
      status: String(r.status),
      at: (r.meta as { lastUpdated?: string } | undefined)?.lastUpdated,
      reason: (r.statusReason as { text?: string } | undefined)?.text,
    }))
    .sort(
      (a, b) =>
        Number(a.version ?? 0) - Number(b.version ?? 0) || String(a.at).localeCompare(String(b.at)),
    );
  return ordered.filter((v, i) => i === 0 || v.status !== ordered[i - 1].status);
}
