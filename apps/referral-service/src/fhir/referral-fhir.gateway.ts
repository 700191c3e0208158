import { checkTaskTransition, containedOf, normalizeReference } from '@carerelay/fhir';
import { Bundle, FhirApiClient, FhirRequestError, Resource } from '@carerelay/fhir-client';
import { cboServiceRequest, cboTask, type SourceContext } from './cbo-copy.mapping';

export type { SourceContext } from './cbo-copy.mapping';

export const CARERELAY_IDENTIFIER_SYSTEM = 'https://carerelay.example/fhir/identifier';
export const CBO_TASK_IDENTIFIER = `${CARERELAY_IDENTIFIER_SYSTEM}/cbo-task`;
export const FILLER_ORDER_IDENTIFIER = `${CARERELAY_IDENTIFIER_SYSTEM}/filler-order`;

export interface CreatedCboTask {
  taskId: string;
  serviceRequestId: string;
  /** The Task was there before this call: the CBO may already have moved it. */
  alreadyExisted: boolean;
  /** The source Task update asked for went into the same transaction (else it is still to do). */
  sourceUpdated: boolean;
}

/**
 * The source Task a platform-made CBO Task belongs to, or undefined for any other Task. Only the
 * platform's own sub-Tasks (its identifier) count: a client may put anything in partOf.
 */
export function sourceTaskIdOfCboTask(task: {
  identifier?: Array<{ system?: string }>;
  partOf?: Array<{ reference?: string }>;
}): string | undefined {
  if (!(task.identifier ?? []).some((i) => i.system === CBO_TASK_IDENTIFIER)) return undefined;
  const match = task.partOf?.[0]?.reference?.match(/^(?:.*\/)?Task\/([^/]+)$/);
  return match?.[1];
}

export interface SourceTaskUpdate {
  status: string;
  statusReason?: string;
  businessStatus?: string;
  output?: unknown[];
}

/**
 * The source Task as the update would leave it, or undefined when it already says all that. A
 * status the IG's transition table does not allow from where the Task is (e.g. on-hold while still
 * requested) is not forced: the Task keeps its status and says what happened in businessStatus and
 * statusReason.
 */
export function updatedSourceTask(task: Resource, update: SourceTaskUpdate): Resource | undefined {
  const next: Resource = { ...task, status: reachableStatus(task.status, update.status) };
  if (update.statusReason) next.statusReason = { text: update.statusReason };
  // A reason of the old status goes with it; a Task whose status stays (a clinician's
  // cancellation mirrored back) keeps the reason its author gave.
  else if (next.status !== task.status) delete next.statusReason;
  if (update.businessStatus) next.businessStatus = { text: update.businessStatus };
  if (update.output) next.output = update.output;
  const unchanged =
    task.status === next.status &&
    JSON.stringify(task.statusReason) === JSON.stringify(next.statusReason) &&
    JSON.stringify(task.businessStatus) === JSON.stringify(next.businessStatus) &&
    JSON.stringify(task.output) === JSON.stringify(next.output);
  return unchanged ? undefined : next;
}

/** An If-Match PUT from the version this gateway holds, as a transaction entry. */
interface KnownPut {
  key: string;
  fromVersion: string;
  entry: unknown;
}

const completedServiceRequest = (sr: Resource): Resource | undefined =>
  sr.status === 'completed' ? undefined : { ...sr, status: 'completed' };

/** The status to set: the wanted one when the platform may move there, else the nearest honest one. */
export function reachableStatus(current: string, wanted: string): string {
  if (checkTaskTransition(current, wanted, 'platform').ok) return wanted;
  // A referral nobody could take, and that the platform never accepted, is rejected by it.
  if (wanted === 'failed' && current === 'requested') return 'rejected';
  return current;
}

const idFromLocation = (location: string | undefined, type: string): string => {
  const match = location?.match(new RegExp(`${type}/([^/]+)`));
  if (!match) throw new Error(`transaction response has no ${type} location (${location})`);
  return match[1];
};

/**
 * Every FHIR read and write the referral workflow makes, through the FHIR API as the platform's
 * own system client. Writes are idempotent: conditional creates on CareRelay identifiers, and
 * If-Match updates that leave a resource alone when it already says what we would write.
 */
export class ReferralFhirGateway {
  /**
   * The last version seen of each source Task and ServiceRequest (read, or written by this
   * gateway): an update starts from it instead of reading the resource first. Memory only, and a
   * hint: a stale copy costs a 412 and a read (see updateWithIfMatch), a missing one a read.
   */
  private readonly lastSeen = new Map<string, Resource>();
  /**
   * The source Task versions this gateway made (`id/versionId`), bounded like lastSeen: their
   * change events tell the workflow nothing it did not decide itself (ownSourceTaskVersion).
   */
  private readonly ownVersions = new Set<string>();

  constructor(
    private readonly fhir: FhirApiClient,
    private readonly platformOrganizationId: string,
    private readonly lastSeenLimit = 1000,
  ) {}

  private remember(resource: Resource | undefined): void {
    if (!resource?.id || !resource.meta?.versionId) return;
    const key = `${resource.resourceType}/${resource.id}`;
    this.lastSeen.delete(key);
    this.lastSeen.set(key, resource);
    // Map order is insertion order: the first key is the one seen longest ago.
    if (this.lastSeen.size > this.lastSeenLimit)
      this.lastSeen.delete(this.lastSeen.keys().next().value as string);
  }

  /** Updates from the last version seen; returns the version saved, or undefined if none was. */
  private async update(
    resourceType: string,
    id: string,
    change: (current: Resource) => Resource | undefined,
  ): Promise<Resource | undefined> {
    const known = this.lastSeen.get(`${resourceType}/${id}`);
    // The version the last decision started from, and whether it changed anything: a result
    // with another version is this gateway's write, anything else someone else's.
    let base: { versionId?: string; changed: boolean } = { changed: false };
    const result = await this.fhir.updateWithIfMatch(
      resourceType,
      id,
      (current) => {
        const next = change(current);
        base = { versionId: current.meta?.versionId, changed: next !== undefined };
        return next;
      },
      { known },
    );
    this.remember(result);
    const saved = base.changed && result.meta?.versionId !== base.versionId;
    return saved ? result : undefined;
  }

  /** Whether this gateway wrote this version of a source Task (memory only: a hint). */
  ownSourceTaskVersion(taskId: string, versionId: string): boolean {
    return this.ownVersions.has(`${taskId}/${versionId}`);
  }

  /** Base URLs that name this server in absolute references (the FHIR API's own). */
  get localBaseUrls(): readonly string[] {
    return [this.fhir.baseUrl.replace(/\/+$/, '')];
  }

  async sourceContext(taskId: string): Promise<SourceContext> {
    return this.sourceContextOf(await this.fhir.read('Task', taskId));
  }

  /**
   * The resource a reference of `container` points at: a contained one (`#id`), or one of this
   * server (relative, or absolute on its base URL); undefined for anything else.
   */
  private async resolve(
    container: Resource | undefined,
    reference: string | undefined,
    type: string,
  ): Promise<Resource | undefined> {
    if (!container || !reference) return undefined;
    if (reference.startsWith('#')) {
      const contained = containedOf(
        container as Parameters<typeof containedOf>[0],
        reference.slice(1),
      );
      return contained?.resourceType === type ? (contained as Resource) : undefined;
    }
    const local = normalizeReference(reference, this.localBaseUrls);
    if (!local?.startsWith(`${type}/`)) return undefined;
    const resource = await this.fhir.read(type, local.slice(type.length + 1));
    // The ServiceRequest is completed when the referral is; the Patient is never written.
    if (type === 'ServiceRequest') this.remember(resource);
    return resource;
  }

  /** The ServiceRequest and Patient of a source Task already in hand (from its change event). */
  async sourceContextOf(task: Resource): Promise<SourceContext> {
    this.remember(task);
    const readServiceRequest = this.resolve(task, task.focus?.reference, 'ServiceRequest');
    // Both at once when the Task names its patient; else the ServiceRequest's subject.
    if (task.for?.reference) {
      const [serviceRequest, patient] = await Promise.all([
        readServiceRequest,
        this.resolve(task, task.for.reference, 'Patient'),
      ]);
      return { task, serviceRequest, patient };
    }
    const serviceRequest = await readServiceRequest;
    const patient = await this.resolve(
      serviceRequest,
      serviceRequest?.subject?.reference,
      'Patient',
    );
    return { task, serviceRequest, patient };
  }

  /**
   * The CBO's filler-order ServiceRequest and Task, in one transaction, created at most once. With
   * `sourceUpdate`, the source Task (the referral's id) is updated in that same transaction when
   * this gateway holds a version of it to start from: one request and one commit instead of two.
   * If that version is stale (412), the routing goes alone and the update is left to the caller.
   */
  async createCboTask(input: {
    referralId: string;
    attempt: number;
    organizationId: string;
    source: SourceContext;
    sourceUpdate?: SourceTaskUpdate;
  }): Promise<CreatedCboTask> {
    const { referralId, attempt, organizationId, source } = input;
    const key = `${referralId}-${attempt}`;
    const now = new Date().toISOString();
    const copy = {
      key,
      source,
      organizationId,
      platformOrganizationId: this.platformOrganizationId,
      now,
      fillerOrderIdentifierSystem: FILLER_ORDER_IDENTIFIER,
      cboTaskIdentifierSystem: CBO_TASK_IDENTIFIER,
      fillerOrderReference: 'urn:uuid:cbo-service-request',
    };
    const serviceRequest = cboServiceRequest(copy);
    const task = cboTask(copy);
    const entries: unknown[] = [
      {
        fullUrl: 'urn:uuid:cbo-service-request',
        resource: JSON.parse(JSON.stringify(serviceRequest)),
        request: {
          method: 'POST',
          url: 'ServiceRequest',
          ifNoneExist: `identifier=${FILLER_ORDER_IDENTIFIER}|${key}`,
        },
      },
      {
        fullUrl: 'urn:uuid:cbo-task',
        resource: JSON.parse(JSON.stringify(task)),
        request: {
          method: 'POST',
          url: 'Task',
          ifNoneExist: `identifier=${CBO_TASK_IDENTIFIER}|${key}`,
        },
      },
    ];
    const { sourceUpdate } = input;
    const sourcePut =
      sourceUpdate &&
      this.putFromKnown('Task', referralId, (t) => updatedSourceTask(t, sourceUpdate));
    const response = await this.transactionFromKnown(entries, sourcePut ? [sourcePut] : []);
    // Another writer moved the source Task since the version held here: nothing was written.
    if (!response) return this.createCboTask({ ...input, sourceUpdate: undefined });
    const [srEntry, taskEntry, sourceEntry] = (response.entry ?? []) as Array<{
      resource?: Resource;
      response?: { location?: string; status?: string };
    }>;
    if (sourcePut) this.savedSourceTask(referralId, sourcePut.fromVersion, sourceEntry?.resource);
    return {
      serviceRequestId: idFromLocation(srEntry?.response?.location, 'ServiceRequest'),
      taskId: idFromLocation(taskEntry?.response?.location, 'Task'),
      // A conditional create that matched answers 200: an earlier, rolled-back attempt made it.
      alreadyExisted: !String(taskEntry?.response?.status ?? '').startsWith('201'),
      sourceUpdated: Boolean(sourcePut),
    };
  }

  /**
   * The transaction entry that updates a resource from the version held here, or undefined: none
   * held, or it needs no change ("nothing to change" is only trusted of a version read from the
   * server, which update() does).
   */
  private putFromKnown(
    resourceType: string,
    id: string,
    change: (current: Resource) => Resource | undefined,
  ): KnownPut | undefined {
    const key = `${resourceType}/${id}`;
    const known = this.lastSeen.get(key);
    const fromVersion = known?.meta?.versionId;
    if (!known || !fromVersion) return undefined;
    const next = change(structuredClone(known));
    if (!next) return undefined;
    return {
      key,
      fromVersion,
      entry: {
        fullUrl: `${this.localBaseUrls[0]}/${resourceType}/${id}`,
        resource: next,
        request: { method: 'PUT', url: `${resourceType}/${id}`, ifMatch: `W/"${fromVersion}"` },
      },
    };
  }

  /**
   * A transaction with `puts` among its entries. A stale version of theirs (412: nothing was
   * written) answers undefined, and their copies are forgotten; the caller goes one at a time.
   */
  private async transactionFromKnown(
    entries: unknown[],
    puts: KnownPut[],
  ): Promise<Bundle | undefined> {
    try {
      return await this.fhir.transaction({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [...entries, ...puts.map((put) => put.entry)],
      });
    } catch (error) {
      if (puts.length === 0 || !(error instanceof FhirRequestError) || error.status !== 412)
        throw error;
      for (const put of puts) this.lastSeen.delete(put.key);
      return undefined;
    }
  }

  /** Remembers a source Task version written in a transaction, and whether it was a new one. */
  private savedSourceTask(taskId: string, fromVersion: string, saved: Resource | undefined): void {
    this.remember(saved);
    const versionId = saved?.meta?.versionId;
    if (versionId && versionId !== fromVersion) this.ownSourceTaskVersionSaved(taskId, versionId);
  }

  async readTask(taskId: string): Promise<Resource> {
    return this.fhir.read('Task', taskId);
  }

  async cancelCboTask(taskId: string, reason: string): Promise<void> {
    await this.update('Task', taskId, (task) => {
      if (
        ['cancelled', 'completed', 'failed', 'rejected', 'entered-in-error'].includes(task.status)
      )
        return undefined;
      return { ...task, status: 'cancelled', statusReason: { text: reason } };
    });
  }

  /** Mirrors the workflow onto the source Task (see updatedSourceTask). */
  async updateSourceTask(taskId: string, update: SourceTaskUpdate): Promise<void> {
    const saved = await this.update('Task', taskId, (task) => updatedSourceTask(task, update));
    if (saved?.meta?.versionId) this.ownSourceTaskVersionSaved(taskId, saved.meta.versionId);
  }

  private ownSourceTaskVersionSaved(taskId: string, versionId: string): void {
    this.ownVersions.add(`${taskId}/${versionId}`);
    if (this.ownVersions.size > this.lastSeenLimit)
      this.ownVersions.delete(this.ownVersions.values().next().value as string);
  }

  async completeServiceRequest(serviceRequestId: string): Promise<void> {
    await this.update('ServiceRequest', serviceRequestId, completedServiceRequest);
  }

  /**
   * Completes the source ServiceRequest and mirrors the completion onto the source Task in one
   * transaction when this gateway holds versions of both to start from: an EHR never sees one
   * without the other, and it is one request instead of two. Otherwise, or when a copy is stale
   * (412: nothing was written), the ServiceRequest and then the Task, each as its own update.
   */
  async completeSource(
    serviceRequestId: string,
    taskId: string,
    update: SourceTaskUpdate,
  ): Promise<void> {
    const srPut = this.putFromKnown('ServiceRequest', serviceRequestId, completedServiceRequest);
    const taskPut = this.putFromKnown('Task', taskId, (t) => updatedSourceTask(t, update));
    const response = srPut && taskPut && (await this.transactionFromKnown([], [srPut, taskPut]));
    if (response && taskPut) {
      const [srEntry, taskEntry] = (response.entry ?? []) as Array<{ resource?: Resource }>;
      this.remember(srEntry?.resource);
      this.savedSourceTask(taskId, taskPut.fromVersion, taskEntry?.resource);
      return;
    }
    await this.completeServiceRequest(serviceRequestId);
    await this.updateSourceTask(taskId, update);
  }
}
