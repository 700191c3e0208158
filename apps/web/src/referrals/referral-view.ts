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

/** The deadline a case manager works to: acceptance while new, closure once accepted. */
export function deadlineOf(task: Resource, policy: DeadlinePolicy): Date | undefined {
  const authored = Date.parse(String(task.authoredOn ?? ''));
  if (Number.isNaN(authored) || TERMINAL.has(String(task.status))) return undefined;
  if (task.status === 'requested') return new Date(authored + policy.acceptWithinHours * 3600_000);
  return new Date(authored + policy.closeWithinDays * 86_400_000);
}

export function summarize(
  task: Resource,
  serviceRequest: Resource | undefined,
  organizationNames: ReadonlyMap<string, string>,
  policy: DeadlinePolicy,
  now: Date,
): ReferralSummary {
  const deadline = deadlineOf(task, policy);
  const left = deadline ? deadline.getTime() - now.getTime() : undefined;
  const requesterId = taskRequesterId(task);
  return {
    id: String(task.id),
    status: String(task.status),
    ...needOf(serviceRequest),
    requester: requesterId ? (organizationNames.get(requesterId) ?? requesterId) : undefined,
    authoredOn: task.authoredOn as string | undefined,
    lastUpdated: (task.meta as { lastUpdated?: string } | undefined)?.lastUpdated,
    deadline: deadline?.toISOString(),
    overdue: left !== undefined && left < 0,
    dueSoon: left !== undefined && left >= 0 && left < DUE_SOON_MS,
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
