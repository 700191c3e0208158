import type { Resource } from '@carerelay/fhir-client';
import {
  OWNER_MUTABLE_ELEMENTS,
  TASK_STATUSES,
  TERMINAL_TASK_STATUSES,
  isTaskStatusReachable,
  type TaskStatus,
} from '@carerelay/fhir';
import { CARERELAY_VERSION_EXTENSION } from '../fhir/ehr-identity';

type Extension = { url?: string; valueInteger?: number };

/** The CareRelay Task version last written to this EHR Task (0: none). */
export const versionOnEhr = (task: Resource): number =>
  ((task.extension as Extension[] | undefined) ?? []).find(
    (e) => e.url === CARERELAY_VERSION_EXTENSION,
  )?.valueInteger ?? 0;

export interface OwnerChanges {
  /** The CareRelay Task version written. */
  version: number;
  status: string;
  statusReason?: unknown;
  businessStatus?: unknown;
  /** The outputs as the EHR is to hold them (references rewritten for the EHR). */
  output: unknown[];
  lastModified: string;
  /** Whether the EHR takes businessStatus from the owner (as CareRelay's FHIR API does). */
  allowBusinessStatus: boolean;
}

export type EhrTaskMerge =
  | { kind: 'write'; task: Resource }
  | { kind: 'already-there' }
  /** The EHR's Task is ahead (or final): writing would move it back. */
  | { kind: 'regression'; ehrStatus: string; carerelayStatus: string };

/**
 * What one CareRelay Task version makes of the EHR's current Task. CareRelay is the Task's owner
 * there, so it writes only what the owner may change (status, statusReason, output,
 * lastModified, businessStatus where allowed) plus the extension naming the CareRelay version,
 * onto the EHR's own copy: everything else the EHR holds (notes, its extensions, identifiers...)
 * stays as it is. The EHR's status is never moved back: a final one (cancelled by the clinician,
 * say) is left alone, and any other only moves to a status reachable from it in the Task
 * lifecycle.
 */
export function mergeOntoEhrTask(current: Resource, changes: OwnerChanges): EhrTaskMerge {
  if (versionOnEhr(current) >= changes.version) return { kind: 'already-there' };
  // The EHR's text is named in logs, delivery errors and metric labels: known codes only.
  const ehrStatus = TASK_STATUSES.includes(current.status as TaskStatus)
    ? String(current.status)
    : 'unknown';
  if (TERMINAL_TASK_STATUSES.includes(ehrStatus as TaskStatus)) {
    return ehrStatus === changes.status
      ? { kind: 'already-there' }
      : { kind: 'regression', ehrStatus, carerelayStatus: changes.status };
  }
  if (!isTaskStatusReachable(ehrStatus, changes.status))
    return { kind: 'regression', ehrStatus, carerelayStatus: changes.status };

  const ours: Record<string, unknown> = {
    status: changes.status,
    statusReason: changes.statusReason,
    output: changes.output.length > 0 ? changes.output : undefined,
    lastModified: changes.lastModified,
    businessStatus: changes.businessStatus,
  };
  const writable = [
    ...OWNER_MUTABLE_ELEMENTS,
    ...(changes.allowBusinessStatus ? ['businessStatus'] : []),
  ];
  const next: Resource = { ...current };
  for (const element of writable) {
    if (ours[element] === undefined) delete next[element];
    else next[element] = ours[element];
  }
  next.extension = [
    ...((current.extension as Extension[] | undefined) ?? []).filter(
      (e) => e.url !== CARERELAY_VERSION_EXTENSION,
    ),
    { url: CARERELAY_VERSION_EXTENSION, valueInteger: changes.version },
  ];
  return { kind: 'write', task: next };
}
