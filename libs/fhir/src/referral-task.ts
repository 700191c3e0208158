import { TASK_CODE_SYSTEM } from './sdohcc-definitions';

/** The elements of a Task that tell whether it is a referral, and what it names. */
export interface ReferralTaskLike {
  status?: string;
  intent?: string;
  code?: { coding?: Array<{ system?: string; code?: string }> };
  partOf?: unknown[];
  focus?: { reference?: string };
  for?: { reference?: string };
  requester?: { reference?: string };
}

/**
 * Whether a Task is a referral as an EHR sends it (the source Task): `requested`, intent order,
 * code fulfill, and not part of another Task (the platform's own CBO Tasks are).
 */
export function isReferralSourceTask(task: unknown): task is ReferralTaskLike {
  const t = task as ReferralTaskLike | undefined;
  if (!t || t.status !== 'requested' || t.intent !== 'order') return false;
  const fulfill = t.code?.coding?.some(
    (c) => c.system === TASK_CODE_SYSTEM && c.code === 'fulfill',
  );
  return Boolean(fulfill) && (t.partOf ?? []).length === 0;
}
