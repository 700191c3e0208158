import { getDataType } from '@medplum/core';
import type { Task } from '@medplum/fhirtypes';
import { loadFhirDefinitions } from './fhir-definitions';
import { FhirError, badRequest, forbidden, unprocessable } from './operation-outcome';

/**
 * The referral Task lifecycle of the SDOH Clinical Care IG ("Checking Task Status"), and who may
 * make each move. `received` and `ready` are not used by the IG.
 *
 * | from                           | to                                   | who                         |
 * |--------------------------------|--------------------------------------|-----------------------------|
 * | draft                          | requested                            | requester                   |
 * | requested                      | accepted, rejected                   | owner                       |
 * | requested                      | cancelled                            | requester                   |
 * | accepted, in-progress, on-hold | in-progress, on-hold, completed, failed (not to itself) | owner |
 * | accepted, in-progress, on-hold | cancelled                            | owner or requester          |
 * | rejected, completed, failed, cancelled | —                            | (terminal)                  |
 * | any status (terminal ones too) | entered-in-error (the record was a mistake) | requester            |
 * | entered-in-error               | —                                    |                             |
 *
 * `platform` (the Coordination Platform itself, e.g. mirroring a CBO's sub-Task onto the source
 * Task) may make every move of the table, in either role; it cannot make a move the table lacks.
 * Keeping the same status is not a transition and is always allowed here (the changed fields are
 * checked by `checkOwnerChanges`).
 */

export type TaskStatus = Task['status'];
export type TaskActorRole = 'requester' | 'owner' | 'platform';

export const TASK_STATUSES: readonly TaskStatus[] = [
  'draft',
  'requested',
  'received',
  'accepted',
  'rejected',
  'ready',
  'cancelled',
  'in-progress',
  'on-hold',
  'failed',
  'completed',
  'entered-in-error',
];

/** Task statuses the IG does not use for referrals. */
export const UNUSED_TASK_STATUSES: readonly TaskStatus[] = ['received', 'ready'];

export const TERMINAL_TASK_STATUSES: readonly TaskStatus[] = [
  'rejected',
  'completed',
  'failed',
  'cancelled',
  'entered-in-error',
];

/** Statuses a referral Task may be created with (by its requester). */
export const INITIAL_TASK_STATUSES: readonly TaskStatus[] = ['draft', 'requested'];

/** Who may make a move of the table ('either' = owner or requester). */
export type TransitionActor = 'requester' | 'owner' | 'either';
type Who = TransitionActor;

const ACTIVE: readonly TaskStatus[] = ['accepted', 'in-progress', 'on-hold'];

function buildTable(): Map<string, Who> {
  const table = new Map<string, Who>();
  const add = (from: TaskStatus, to: TaskStatus, who: Who): void => {
    table.set(`${from}>${to}`, who);
  };
  add('draft', 'requested', 'requester');
  add('requested', 'accepted', 'owner');
  add('requested', 'rejected', 'owner');
  add('requested', 'cancelled', 'requester');
  for (const from of ACTIVE) {
    for (const to of ['in-progress', 'on-hold', 'completed', 'failed'] as TaskStatus[]) {
      if (to !== from) {
        add(from, to, 'owner');
      }
    }
    add(from, 'cancelled', 'either');
  }
  for (const from of TASK_STATUSES) {
    if (from !== 'entered-in-error') {
      add(from, 'entered-in-error', 'requester');
    }
  }
  return table;
}

const TRANSITIONS = buildTable();

/** Every allowed move, for documentation and tests: `[from, to, who]`. */
export function taskTransitionTable(): [TaskStatus, TaskStatus, Who][] {
  return [...TRANSITIONS.entries()].map(([key, who]) => {
    const [from, to] = key.split('>') as [TaskStatus, TaskStatus];
    return [from, to, who];
  });
}

export type TransitionResult = { ok: true } | { ok: false; error: FhirError };

const EXPRESSION = 'Task.status';

function isTaskStatus(value: unknown): value is TaskStatus {
  return typeof value === 'string' && (TASK_STATUSES as readonly string[]).includes(value);
}

/**
 * May `actorRole` move a referral Task from `from` to `to`? An illegal move is a 422, a legal
 * move by the wrong party a 403, a value that is not a Task status a 400; each with expression
 * `Task.status`.
 */
export function checkTaskTransition(
  from: string,
  to: string,
  actorRole: TaskActorRole,
): TransitionResult {
  if (!isTaskStatus(to)) {
    return {
      ok: false,
      error: badRequest(`"${to}" is not a Task status`, EXPRESSION, 'code-invalid'),
    };
  }
  if (!isTaskStatus(from)) {
    return {
      ok: false,
      error: badRequest(`"${from}" is not a Task status`, EXPRESSION, 'code-invalid'),
    };
  }
  if (from === to) {
    return { ok: true };
  }
  if (UNUSED_TASK_STATUSES.includes(to)) {
    return {
      ok: false,
      error: unprocessable(
        `Status "${to}" is not used for referral Tasks`,
        EXPRESSION,
        'code-invalid',
      ),
    };
  }
  const who = TRANSITIONS.get(`${from}>${to}`);
  if (!who) {
    return {
      ok: false,
      error: unprocessable(
        TERMINAL_TASK_STATUSES.includes(from)
          ? `A ${from} Task cannot change status (to ${to}) except to entered-in-error`
          : `Illegal Task status transition from ${from} to ${to}`,
        EXPRESSION,
      ),
    };
  }
  if (actorRole === 'platform' || who === 'either' || who === actorRole) {
    return { ok: true };
  }
  return {
    ok: false,
    error: forbidden(`Only the ${who} may move a Task from ${from} to ${to}`, EXPRESSION),
  };
}

/**
 * Is `to` ahead of (or the same as) `from` in the lifecycle: reachable through moves of the
 * table, by anyone? What a copy of a Task kept elsewhere (an EHR's) may be moved to without going
 * back: `in-progress` → `accepted` is not, a terminal status reaches nothing but
 * `entered-in-error`.
 */
export function isTaskStatusReachable(from: string, to: string): boolean {
  if (!isTaskStatus(from) || !isTaskStatus(to)) {
    return false;
  }
  const seen = new Set<string>([from]);
  const queue: string[] = [from];
  while (queue.length > 0) {
    const current = queue.shift() as string;
    if (current === to) {
      return true;
    }
    for (const key of TRANSITIONS.keys()) {
      const [f, t] = key.split('>');
      if (f === current && !seen.has(t)) {
        seen.add(t);
        queue.push(t);
      }
    }
  }
  return false;
}

/** Throwing form of checkTaskTransition. */
export function assertTaskTransition(from: string, to: string, actorRole: TaskActorRole): void {
  const result = checkTaskTransition(from, to, actorRole);
  if (!result.ok) {
    throw result.error;
  }
}

/**
 * May a referral Task be created with this status? The requester (and the platform, for its
 * own sub-Tasks) creates Tasks as `draft` or `requested`; an owner never creates them.
 */
export function checkTaskCreation(status: string, actorRole: TaskActorRole): TransitionResult {
  if (!isTaskStatus(status)) {
    return {
      ok: false,
      error: badRequest(`"${status}" is not a Task status`, EXPRESSION, 'code-invalid'),
    };
  }
  if (actorRole === 'owner') {
    return { ok: false, error: forbidden('The owner of a Task cannot create it', 'Task.owner') };
  }
  if (!INITIAL_TASK_STATUSES.includes(status)) {
    return {
      ok: false,
      error: unprocessable(
        `A referral Task must be created as draft or requested, not ${status}`,
        EXPRESSION,
      ),
    };
  }
  return { ok: true };
}

// ---------------------------------------------------------------------------------------------
// What the owner may change.

/**
 * Elements the owner (performer) of a referral Task may change. The IG: "status, statusReason and
 * output". Added because the server, not the client, sets them: `lastModified`, and inside
 * `meta` only `versionId`, `lastUpdated` and `source` (a changed `meta.security`, `meta.tag` or
 * `meta.profile` is forbidden: security labels such as 42 CFR Part 2 must not be dropped by a CBO).
 * `businessStatus` is NOT allowed by default (strict IG reading); pass
 * `{ allowBusinessStatus: true }` to let CBOs report BSeR-style milestones on the Task itself.
 */
export const OWNER_MUTABLE_ELEMENTS: readonly string[] = [
  'status',
  'statusReason',
  'output',
  'lastModified',
];
const SERVER_META_ELEMENTS = new Set(['versionId', 'lastUpdated', 'source']);

export interface OwnerChangeOptions {
  allowBusinessStatus?: boolean;
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) {
    return `[${value.map(canonical).join(',')}]`;
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'undefined';
}

function same(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

let taskElementOrder: string[] | undefined;

/** Task's elements in the order of the R4 definition, so "the first" forbidden one is stable. */
function elementOrder(): string[] {
  if (!taskElementOrder) {
    loadFhirDefinitions();
    const names = Object.keys(getDataType('Task').elements).map((k) => k.replace('[x]', ''));
    taskElementOrder = [
      'resourceType',
      'id',
      'meta',
      ...names.filter((n) => n !== 'id' && n !== 'meta'),
    ];
  }
  return taskElementOrder;
}

/**
 * An owner's update of a referral Task: 403 naming (in `expression`) the first element, in R4
 * order, that the owner may not change; undefined when the update is allowed.
 */
export function checkOwnerChanges(
  before: Task,
  after: Task,
  options: OwnerChangeOptions = {},
): FhirError | undefined {
  const allowed = new Set(OWNER_MUTABLE_ELEMENTS);
  if (options.allowBusinessStatus) {
    allowed.add('businessStatus');
  }
  const b = before as unknown as Record<string, unknown>;
  const a = after as unknown as Record<string, unknown>;
  const order = elementOrder();
  const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])].sort((x, y) => {
    const ix = order.indexOf(x);
    const iy = order.indexOf(y);
    return (ix === -1 ? order.length : ix) - (iy === -1 ? order.length : iy) || x.localeCompare(y);
  });
  for (const key of keys) {
    if (allowed.has(key)) {
      continue;
    }
    if (key === 'meta') {
      const mb = (b.meta ?? {}) as Record<string, unknown>;
      const ma = (a.meta ?? {}) as Record<string, unknown>;
      for (const metaKey of [...new Set([...Object.keys(mb), ...Object.keys(ma)])].sort()) {
        if (!SERVER_META_ELEMENTS.has(metaKey) && !same(mb[metaKey], ma[metaKey])) {
          return forbidden(
            `The owner of a Task may not change meta.${metaKey}`,
            `Task.meta.${metaKey}`,
          );
        }
      }
      continue;
    }
    if (!same(b[key], a[key])) {
      return forbidden(
        `The owner of a Task may change only ${[...allowed].join(', ')}; not ${key}`,
        `Task.${key}`,
      );
    }
  }
  return undefined;
}

/** `Task.statusReason.text` is required whenever `statusReason` is present (422). */
export function checkStatusReason(task: Pick<Task, 'statusReason'>): FhirError | undefined {
  const reason = task.statusReason;
  if (reason !== undefined && (typeof reason.text !== 'string' || reason.text.trim() === '')) {
    return unprocessable(
      'Task.statusReason.text is required when a status reason is given',
      'Task.statusReason.text',
      'required',
    );
  }
  return undefined;
}

/**
 * Everything to check on an update of a referral Task, in order: the status reason (422), the
 * transition and who makes it (400/422/403), and for an owner the elements changed (403).
 * Returns the first problem, or undefined.
 */
export function checkTaskUpdate(
  before: Task,
  after: Task,
  actorRole: TaskActorRole,
  options: OwnerChangeOptions = {},
): FhirError | undefined {
  const reason = checkStatusReason(after);
  if (reason) {
    return reason;
  }
  const transition = checkTaskTransition(before.status, after.status, actorRole);
  if (!transition.ok) {
    return transition.error;
  }
  if (actorRole === 'owner') {
    return checkOwnerChanges(before, after, options);
  }
  return undefined;
}
