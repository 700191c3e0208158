import { type CloudEvent, type FhirResourceChangedV1 } from '@carerelay/contracts';
import { isReferralSourceTask, type ReferralTaskLike, isRemoteReference } from '@carerelay/fhir';
import { ignoredByPushQueue } from '../push/push-queue.rules';

/** What a referral Task names on another server than CareRelay's (absolute URLs). */
export interface RemoteReferences {
  focus?: string;
  for?: string;
}

/**
 * The references to fetch of a CareRelay Task change: a referral Task (`requested`, intent order,
 * code fulfill, part of none) whose `focus` or `for` is an absolute URL off CareRelay's base —
 * as an EHR posts a Task alone, naming its ServiceRequest and Patient on its own FHIR server.
 * Told from the event alone.
 */
export function remoteReferencesOf(
  change: FhirResourceChangedV1,
  carerelayBaseUrl: string,
): RemoteReferences | undefined {
  if (change.resourceType !== 'Task' || change.action === 'delete' || !change.resource)
    return undefined;
  const task = change.resource as ReferralTaskLike;
  if (!isReferralSourceTask(task)) return undefined;
  const local = [carerelayBaseUrl];
  const focus = isRemoteReference(task.focus?.reference, local) ? task.focus?.reference : undefined;
  const patient = isRemoteReference(task.for?.reference, local) ? task.for?.reference : undefined;
  return focus || patient ? { focus, for: patient } : undefined;
}

/**
 * The FHIR changes the connector passes over, told from the event alone (no SQL): anything but an
 * update of a Task naming an EHR Task of its own (the push queue) or a referral Task naming
 * resources on another server (to fetch from the EHR).
 */
export const ignoredByConnector =
  (carerelayBaseUrl: string) =>
  (event: CloudEvent): boolean =>
    ignoredByPushQueue(event) &&
    !remoteReferencesOf(event.data as FhirResourceChangedV1, carerelayBaseUrl);

export interface FetchRetryPolicy {
  /** Attempts of a referral the EHR or CareRelay refuses (404, 4xx) before it is given up. */
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** How long an EHR that cannot be reached (no answer, 5xx, 408, 429) is waited out. */
  giveUpAfterMs: number;
}

/**
 * After a failed attempt (`attempts` counts it): give up, or try again after a delay —
 * exponential with full jitter. A refusal (the EHR answers 404 while it commits, say) is tried
 * `maxAttempts` times; an unreachable EHR is waited out for `giveUpAfterMs` since first seen.
 */
export function afterFailure(
  failure: { transient: boolean; attempts: number; firstSeenAt: Date; now: Date },
  policy: FetchRetryPolicy,
  random: () => number = Math.random,
): { giveUp: true } | { giveUp: false; delayMs: number } {
  const waited = failure.now.getTime() - failure.firstSeenAt.getTime();
  if (failure.transient ? waited >= policy.giveUpAfterMs : failure.attempts >= policy.maxAttempts)
    return { giveUp: true };
  const ceiling = Math.min(
    policy.maxBackoffMs,
    policy.initialBackoffMs * 2 ** Math.min(failure.attempts - 1, 30),
  );
  return {
    giveUp: false,
    delayMs: Math.max(policy.initialBackoffMs, Math.round(random() * ceiling)),
  };
}
