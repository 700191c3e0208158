import { normalizeReference, parseReference, TASK_CODE_SYSTEM } from '@carerelay/fhir';
import type { Resource } from '@carerelay/fhir-client';

/**
 * What the platform's copies for a CBO keep of the source referral: the filler-order
 * ServiceRequest and the CBO Task. Must Support elements of the SDOHCC profiles (and of US Core
 * ServiceRequest, their parent) that the source may carry are kept, so that nothing the referring
 * clinician said is lost on the way — above all orderDetail "contacting-subject-prohibited": the
 * CBO must not call a patient who asked not to be called. Pure functions on plain JSON.
 *
 * Kept from the source ServiceRequest: pertainsToGoal (extension), category, code, orderDetail,
 * priority, occurrence[x], subject, reasonCode, reasonReference, supportingInfo, and the contained
 * resources those reference. Kept from the source Task: priority, for, input (additional content)
 * and the contained resources they reference. Set by the platform: identifier, status, intent,
 * basedOn / partOf (→ the source), authoredOn, requester (the platform), performer / owner (the
 * CBO). Not kept: encounter (the EHR's visit, not a resource of this server), note and
 * patientInstruction (free text the CBO does not need), the source's own identifiers.
 */

export const PERTAINS_TO_GOAL = 'http://hl7.org/fhir/StructureDefinition/resource-pertainsToGoal';

/** The ServiceRequest elements copied as they are (references normalised). */
const SERVICE_REQUEST_KEPT = [
  'category',
  'code',
  'orderDetail',
  'priority',
  'occurrenceDateTime',
  'occurrencePeriod',
  'occurrenceTiming',
  'subject',
  'reasonCode',
  'reasonReference',
  'supportingInfo',
] as const;

/** The Task elements copied as they are (references normalised). */
const TASK_KEPT = ['priority', 'for', 'input'] as const;

export interface SourceContext {
  task: Resource;
  serviceRequest?: Resource;
  patient?: Resource;
}

/**
 * A copy of `value` whose references are relative where they point at this server (absolute URLs
 * on one of `localBaseUrls`); references elsewhere, contained (`#id`) and urn: ones are unchanged.
 */
export function localizeReferences<T>(value: T, localBaseUrls: readonly string[]): T {
  if (Array.isArray(value)) return value.map((v) => localizeReferences(v, localBaseUrls)) as T;
  if (typeof value !== 'object' || value === null) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    if (key === 'reference' && typeof child === 'string') {
      const parsed = parseReference(child);
      copy[key] =
        parsed?.kind === 'absolute' ? (normalizeReference(child, localBaseUrls) ?? child) : child;
    } else copy[key] = localizeReferences(child, localBaseUrls);
  }
  return copy as T;
}

/** The contained resources of `container` that `kept` references (`#id`), in their order. */
function containedReferenced(container: Resource, kept: unknown): Resource[] | undefined {
  const contained = (container.contained ?? []) as Resource[];
  if (contained.length === 0) return undefined;
  const ids = new Set<string>();
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (typeof value === 'object' && value !== null) {
      for (const [key, child] of Object.entries(value)) {
        if (key === 'reference' && typeof child === 'string' && child.startsWith('#'))
          ids.add(child.slice(1));
        else walk(child);
      }
    }
  };
  walk(kept);
  // A contained resource may itself reference another contained one (e.g. a Condition's evidence).
  let size = -1;
  while (size !== ids.size) {
    size = ids.size;
    contained.filter((c) => c.id && ids.has(c.id)).forEach(walk);
  }
  const found = contained.filter((c) => c.id && ids.has(c.id));
  return found.length > 0 ? found : undefined;
}

function pick(resource: Resource, keys: readonly string[]): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const key of keys) if (resource[key] !== undefined) picked[key] = resource[key];
  return picked;
}

/** The parts of the source the CBO copies are made from (stored with the referral). */
export function keptSource(source: SourceContext, localBaseUrls: readonly string[]): SourceContext {
  const { task, serviceRequest } = source;
  const keptTask = localizeReferences(
    { resourceType: 'Task', id: task.id, ...pick(task, TASK_KEPT) },
    localBaseUrls,
  );
  const taskContained = containedReferenced(task, keptTask);
  let keptServiceRequest: Resource | undefined;
  if (serviceRequest) {
    const goals = ((serviceRequest.extension ?? []) as Array<{ url?: string }>).filter(
      (e) => e.url === PERTAINS_TO_GOAL,
    );
    keptServiceRequest = localizeReferences(
      {
        resourceType: 'ServiceRequest',
        id: serviceRequest.id,
        ...(goals.length > 0 ? { extension: goals } : {}),
        ...pick(serviceRequest, SERVICE_REQUEST_KEPT),
      },
      localBaseUrls,
    );
    const contained = containedReferenced(serviceRequest, keptServiceRequest);
    if (contained) keptServiceRequest.contained = contained;
  }
  return {
    task: taskContained ? { ...keptTask, contained: taskContained } : keptTask,
    serviceRequest: keptServiceRequest,
  };
}

export interface CboCopyInput {
  /** Idempotency key of this routing attempt. */
  key: string;
  source: SourceContext;
  organizationId: string;
  platformOrganizationId: string;
  now: string;
  fillerOrderIdentifierSystem: string;
  cboTaskIdentifierSystem: string;
  /** How the CBO Task refers to the filler-order (a urn: fullUrl inside one transaction). */
  fillerOrderReference: string;
}

/** The filler-order ServiceRequest the CBO receives, basedOn the source ServiceRequest. */
export function cboServiceRequest(input: CboCopyInput): Resource {
  const { source, key, organizationId, platformOrganizationId, now } = input;
  const sr = source.serviceRequest;
  const copied = sr ? pick(sr, ['extension', 'contained', ...SERVICE_REQUEST_KEPT]) : {};
  return {
    resourceType: 'ServiceRequest',
    identifier: [{ system: input.fillerOrderIdentifierSystem, value: key }],
    status: 'active',
    intent: 'filler-order',
    basedOn: sr ? [{ reference: `ServiceRequest/${sr.id}` }] : undefined,
    ...copied,
    subject: copied.subject ?? source.task.for,
    authoredOn: now,
    requester: { reference: `Organization/${platformOrganizationId}` },
    performer: [{ reference: `Organization/${organizationId}` }],
  };
}

/** The CBO's Task: partOf the source Task, owned by the CBO, focused on the filler-order. */
export function cboTask(input: CboCopyInput): Resource {
  const { source, key, organizationId, platformOrganizationId, now } = input;
  const task = source.task;
  return {
    resourceType: 'Task',
    ...(task.contained ? { contained: task.contained } : {}),
    identifier: [{ system: input.cboTaskIdentifierSystem, value: key }],
    partOf: [{ reference: `Task/${task.id}` }],
    status: 'requested',
    intent: 'order',
    priority: task.priority,
    code: {
      coding: [{ system: TASK_CODE_SYSTEM, code: 'fulfill', display: 'Fulfill the focal request' }],
    },
    focus: { reference: input.fillerOrderReference },
    for: task.for,
    authoredOn: now,
    requester: { reference: `Organization/${platformOrganizationId}` },
    owner: { reference: `Organization/${organizationId}` },
    input: task.input,
  };
}
