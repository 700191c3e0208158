import { LRUCache } from 'lru-cache';
import { FhirApiClient, FhirRequestError, type Resource } from '@carerelay/fhir-client';
import type { EhrVersion } from '../pull/ehr-change.rules';
import { EhrClients, relativeTo } from '../fhir/fhir-clients';
import { carerelayIdentitySystem } from '../fhir/ehr-identity';
import type { EhrEndpoint } from '../registry/ehr-endpoint.registry';
import { mergeOntoEhrTask, type EhrTaskMerge, type OwnerChanges } from './ehr-task.merge';

type Reference = { reference?: string; display?: string };

/** Makes every reference of `value` absolute on `base` (relative ones only). */
function absolutize<T>(value: T, base: string): T {
  if (Array.isArray(value)) return value.map((v) => absolutize(v, base)) as T;
  if (!value || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    out[key] =
      key === 'reference' && typeof child === 'string' && relativeTo(child, base) === child
        ? `${base}/${child}`
        : absolutize(child, base);
  }
  return out as T;
}

/**
 * What a write made on the EHR: the version it replaced and the one it made (when the EHR
 * answered with the Task), so that the pull knows its own echo when it sees it.
 */
export interface PushEcho {
  replacedVersionId: string;
  versionId: string;
  lastUpdated?: string;
}

export type PushResult =
  | { kind: 'updated'; echo?: PushEcho }
  | { kind: 'already-there' }
  /** Not written: the EHR's Task is final or ahead of this version (its status named). */
  | { kind: 'regression'; ehrStatus: string; carerelayStatus: string };

export interface EhrTaskPusherOptions {
  /** Whether businessStatus is written (an EHR that takes it from the Task's owner). */
  businessStatus?: boolean;
  /** How many EHR Tasks are remembered as last read or written (5,000). */
  rememberedTasks?: number;
}

/**
 * Writes one CareRelay Task version to the EHR's Task with fhir-kit-client: read first, then
 * only what the owner may change (status, statusReason, output, businessStatus where allowed;
 * mergeOntoEhrTask) merged onto the EHR's current Task, with If-Match on its version (a 412 reads
 * again and merges again). A CareRelay Procedure is created on the EHR server, once, and
 * referenced there; other outputs by absolute CareRelay URL. The CareRelay version written is
 * kept on the EHR Task in an extension: an EHR Task that already holds it or a newer one is left
 * alone, and so is one whose status this version would move back (a Task the clinician
 * cancelled stays cancelled).
 *
 * The next version of a Task is merged onto the EHR Task as the last write returned it, without
 * reading it again: the If-Match on that copy's version makes the EHR refuse it (412) if anyone
 * changed the Task meanwhile, and the Task is then read and merged again.
 */
export class EhrTaskPusher {
  private readonly lastSeen: LRUCache<string, Resource>;

  constructor(
    private readonly ehrClients: EhrClients,
    private readonly carerelay: FhirApiClient,
    private readonly options: EhrTaskPusherOptions = {},
  ) {
    this.lastSeen = new LRUCache({ max: options.rememberedTasks ?? 5_000 });
  }

  async push(
    endpoint: EhrEndpoint,
    ehrTaskId: string,
    task: Resource,
    version: number,
  ): Promise<PushResult> {
    const ehr = await this.ehrClients.for(endpoint);
    const changes = (output: unknown[]): OwnerChanges => ({
      version,
      status: String(task.status),
      statusReason: task.statusReason,
      businessStatus: task.businessStatus,
      output,
      lastModified:
        (task.meta as { lastUpdated?: string } | undefined)?.lastUpdated ??
        new Date().toISOString(),
      allowBusinessStatus: this.options.businessStatus ?? true,
    });
    const outcome = (merge: EhrTaskMerge): PushResult =>
      merge.kind === 'write' ? { kind: 'updated' } : merge;
    const seenKey = `${endpoint.id}|${endpoint.baseUrl}|${ehrTaskId}`;
    // A Procedure is copied onto the EHR only for a version the EHR will take: decided on a read
    // of the EHR's current Task, not on a remembered copy.
    let read: Resource | undefined;
    if (this.copiesProcedure(task)) {
      read = await ehr.read('Task', ehrTaskId);
      const before = mergeOntoEhrTask(read, changes([]));
      if (before.kind !== 'write') {
        this.lastSeen.set(seenKey, read);
        return outcome(before);
      }
    }
    const known = read ?? this.lastSeen.get(seenKey);
    const outputs = await this.outputsFor(ehr, task, read);
    let result: PushResult = { kind: 'updated' };
    let onto: EhrVersion | undefined;
    let stored: Resource;
    try {
      stored = await ehr.updateWithIfMatch(
        'Task',
        ehrTaskId,
        (current) => {
          const merge = mergeOntoEhrTask(current, changes(outputs));
          result = outcome(merge);
          onto = current.meta as EhrVersion | undefined;
          return merge.kind === 'write' ? merge.task : undefined;
        },
        { known },
      );
    } catch (error) {
      this.lastSeen.delete(seenKey);
      throw error;
    }
    if (stored?.resourceType === 'Task' && (stored.meta as EhrVersion | undefined)?.versionId)
      this.lastSeen.set(seenKey, stored);
    else this.lastSeen.delete(seenKey);
    if (result.kind !== 'updated') return result;
    const written = stored?.meta as EhrVersion | undefined;
    return onto?.versionId && written?.versionId && written.versionId !== onto.versionId
      ? {
          kind: 'updated',
          echo: {
            replacedVersionId: onto.versionId,
            versionId: written.versionId,
            lastUpdated: written.lastUpdated,
          },
        }
      : result;
  }

  private copiesProcedure(task: Resource): boolean {
    return ((task.output as Array<Record<string, unknown>> | undefined) ?? []).some((output) =>
      relativeTo(
        (output.valueReference as Reference | undefined)?.reference,
        this.carerelay.baseUrl,
      )?.startsWith('Procedure/'),
    );
  }

  /**
   * `ehrTask`: the EHR Task just read, which push reads whenever an output is a Procedure
   * (copiesProcedure): the copy names that read's focus.
   */
  private async outputsFor(
    ehr: FhirApiClient,
    task: Resource,
    ehrTask: Resource | undefined,
  ): Promise<unknown[]> {
    const copied = new Map<string, string>();
    const outputs = (task.output as Array<Record<string, unknown>> | undefined) ?? [];
    const result: unknown[] = [];
    for (const output of outputs) {
      const ref = (output.valueReference as Reference | undefined)?.reference;
      const local = relativeTo(ref, this.carerelay.baseUrl);
      if (local?.startsWith('Procedure/')) {
        const id = local.slice('Procedure/'.length);
        let ehrId = copied.get(id);
        if (!ehrId) {
          if (!ehrTask) throw new Error('a Procedure is copied only after a read of the EHR Task');
          ehrId = await this.copyProcedure(ehr, id, ehrTask);
          copied.set(id, ehrId);
        }
        result.push({
          ...output,
          valueReference: {
            ...(output.valueReference as Reference),
            reference: `Procedure/${ehrId}`,
          },
        });
      } else {
        result.push(absolutize(output, this.carerelay.baseUrl));
      }
    }
    return result;
  }

  /** Creates (conditionally, on CareRelay's identity) the Procedure on the EHR server. */
  private async copyProcedure(ehr: FhirApiClient, id: string, ehrTask: Resource): Promise<string> {
    const procedure = await this.carerelay.read('Procedure', id);
    const system = carerelayIdentitySystem(this.carerelay.baseUrl, 'Procedure');
    const { id: _id, meta: _meta, ...rest } = procedure;
    const copy: Resource = {
      ...absolutize(rest, this.carerelay.baseUrl),
      resourceType: 'Procedure',
      identifier: [
        ...((procedure.identifier as unknown[] | undefined) ?? []),
        { system, value: id },
      ],
    };
    // On the EHR, the Procedure is about the EHR's own ServiceRequest and Patient.
    if (ehrTask.focus?.reference) copy.basedOn = [{ reference: ehrTask.focus.reference }];
    if (ehrTask.for?.reference) copy.subject = { ...ehrTask.for };
    try {
      const created = await ehr.createIfNoneExist(copy, `identifier=${system}|${id}`);
      return created.id as string;
    } catch (error) {
      if (error instanceof FhirRequestError && error.status === 412) {
        const found = await ehr.search('Procedure', { identifier: `${system}|${id}` });
        const first = found.entry?.[0]?.resource?.id;
        if (first) return first;
      }
      throw error;
    }
  }
}
