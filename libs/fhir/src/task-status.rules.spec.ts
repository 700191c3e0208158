import type { Task } from '@medplum/fhirtypes';
import {
  TASK_STATUSES,
  assertTaskTransition,
  checkOwnerChanges,
  checkStatusReason,
  checkTaskCreation,
  checkTaskTransition,
  checkTaskUpdate,
  isTaskStatusReachable,
  type TaskActorRole,
  type TaskStatus,
} from './task-status.rules';
import { FhirError } from './operation-outcome';
import { fixture, TASK_ACCEPTED } from '../test-fixtures/load';

/**
 * The table of shared/design/FHIR-REFERRAL-WORKFLOW.md, written out independently of the
 * implementation: [from, to, who may] ('either' = owner or requester).
 */
const DOC_TABLE: [string, string, 'requester' | 'owner' | 'either'][] = [
  ['draft', 'requested', 'requester'],
  ['requested', 'accepted', 'owner'],
  ['requested', 'rejected', 'owner'],
  ['requested', 'cancelled', 'requester'],
  ['accepted', 'in-progress', 'owner'],
  ['accepted', 'on-hold', 'owner'],
  ['accepted', 'completed', 'owner'],
  ['accepted', 'failed', 'owner'],
  ['accepted', 'cancelled', 'either'],
  ['in-progress', 'on-hold', 'owner'],
  ['in-progress', 'completed', 'owner'],
  ['in-progress', 'failed', 'owner'],
  ['in-progress', 'cancelled', 'either'],
  ['on-hold', 'in-progress', 'owner'],
  ['on-hold', 'completed', 'owner'],
  ['on-hold', 'failed', 'owner'],
  ['on-hold', 'cancelled', 'either'],
];
const ROLES: TaskActorRole[] = ['requester', 'owner', 'platform'];

function expected(from: string, to: string, role: TaskActorRole): 'ok' | 403 | 422 {
  if (from === to) {
    return 'ok';
  }
  let who: string | undefined = DOC_TABLE.find(([f, t]) => f === from && t === to)?.[2];
  if (to === 'entered-in-error' && from !== 'entered-in-error') {
    who = 'requester'; // "any → entered-in-error: requester"
  }
  if (!who) {
    return 422;
  }
  return role === 'platform' || who === 'either' || who === role ? 'ok' : 403;
}

describe('checkTaskTransition', () => {
  const cases: [TaskStatus, TaskStatus, TaskActorRole][] = [];
  for (const from of TASK_STATUSES) {
    for (const to of TASK_STATUSES) {
      for (const role of ROLES) {
        cases.push([from, to, role]);
      }
    }
  }

  it.each(cases)('%s → %s by %s follows the IG table', (from, to, role) => {
    const result = checkTaskTransition(from, to, role);
    const want = expected(from, to, role);
    if (want === 'ok') {
      expect(result).toEqual({ ok: true });
    } else {
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.error.status).toBe(want);
        expect(result.error.expression).toBe('Task.status');
      }
    }
  });

  it('explains the refusal', () => {
    const terminal = checkTaskTransition('completed', 'in-progress', 'owner');
    expect(!terminal.ok && terminal.error.message).toContain('completed');
    const wrongActor = checkTaskTransition('requested', 'accepted', 'requester');
    expect(!wrongActor.ok && wrongActor.error.message).toBe(
      'Only the owner may move a Task from requested to accepted',
    );
    const unused = checkTaskTransition('requested', 'received', 'owner');
    expect(!unused.ok && unused.error).toMatchObject({ status: 422, code: 'code-invalid' });
  });

  it('answers 400 for a value that is not a Task status', () => {
    const result = checkTaskTransition('requested', 'bogus', 'owner');
    expect(!result.ok && result.error).toMatchObject({ status: 400, expression: 'Task.status' });
    expect(() => assertTaskTransition('draft', 'accepted', 'owner')).toThrow(FhirError);
    expect(() => assertTaskTransition('draft', 'requested', 'requester')).not.toThrow();
  });
});

describe('checkTaskCreation', () => {
  it('lets the requester or platform create draft or requested Tasks only', () => {
    expect(checkTaskCreation('requested', 'requester')).toEqual({ ok: true });
    expect(checkTaskCreation('draft', 'platform')).toEqual({ ok: true });
    const accepted = checkTaskCreation('accepted', 'requester');
    expect(!accepted.ok && accepted.error).toMatchObject({
      status: 422,
      expression: 'Task.status',
    });
    const byOwner = checkTaskCreation('requested', 'owner');
    expect(!byOwner.ok && byOwner.error.status).toBe(403);
    const bogus = checkTaskCreation('nope', 'requester');
    expect(!bogus.ok && bogus.error.status).toBe(400);
  });
});

describe('checkOwnerChanges', () => {
  const before = (): Task => fixture<Task>(TASK_ACCEPTED);

  it('lets the owner change status, statusReason, output, lastModified and server meta', () => {
    const after = before();
    after.status = 'completed';
    after.statusReason = { text: 'Done' };
    after.output = [{ type: { text: 'x' }, valueReference: { reference: 'Procedure/p1' } }];
    after.lastModified = '2026-01-01T00:00:00Z';
    after.meta = { ...after.meta, versionId: '2', lastUpdated: '2026-01-01T00:00:00Z' };
    expect(checkOwnerChanges(before(), after)).toBeUndefined();
  });

  it('ignores key order and undefined members', () => {
    const after = JSON.parse(JSON.stringify(before())) as Task;
    const reordered = Object.fromEntries(Object.entries(after).reverse()) as unknown as Task;
    (reordered as unknown as Record<string, unknown>).note = undefined;
    expect(checkOwnerChanges(before(), reordered)).toBeUndefined();
  });

  it.each<[string, (t: Task) => void, string]>([
    ['the owner', (t) => (t.owner = { reference: 'Organization/other' }), 'Task.owner'],
    ['the focus', (t) => (t.focus = { reference: 'ServiceRequest/x' }), 'Task.focus'],
    ['the patient', (t) => (t.for = { reference: 'Patient/x' }), 'Task.for'],
    [
      'a display text',
      (t) => (t.requester = { ...t.requester, display: 'Dr Who' }),
      'Task.requester',
    ],
    ['a new note', (t) => (t.note = [{ text: 'hi' }]), 'Task.note'],
    ['a removed authoredOn', (t) => delete t.authoredOn, 'Task.authoredOn'],
    [
      'the business status (strict default)',
      (t) => (t.businessStatus = { text: 'scheduled' }),
      'Task.businessStatus',
    ],
    [
      'a security label',
      (t) => (t.meta = { ...t.meta, security: [{ system: 'urn:x', code: 'R' }] }),
      'Task.meta.security',
    ],
    ['the profile', (t) => (t.meta = {}), 'Task.meta.profile'],
  ])('forbids changing %s (403 with its expression)', (_what, mutate, expression) => {
    const after = before();
    mutate(after);
    const error = checkOwnerChanges(before(), after);
    expect(error).toBeInstanceOf(FhirError);
    expect(error?.status).toBe(403);
    expect(error?.expression).toBe(expression);
  });

  it('names the first forbidden element in R4 order', () => {
    const after = before();
    after.note = [{ text: 'x' }];
    after.focus = { reference: 'ServiceRequest/x' };
    after.intent = 'plan';
    // R4 order: ... intent, priority, code, description, focus, for, ... note
    expect(checkOwnerChanges(before(), after)?.expression).toBe('Task.intent');
  });

  it('allows businessStatus when asked to', () => {
    const after = before();
    after.businessStatus = { text: 'contact attempted' };
    expect(checkOwnerChanges(before(), after, { allowBusinessStatus: true })).toBeUndefined();
  });
});

describe('checkStatusReason and checkTaskUpdate', () => {
  it('requires statusReason.text whenever statusReason is present', () => {
    expect(checkStatusReason({})).toBeUndefined();
    expect(checkStatusReason({ statusReason: { text: 'No capacity' } })).toBeUndefined();
    for (const reason of [{}, { text: '' }, { text: '  ' }, { coding: [{ code: 'x' }] }]) {
      const error = checkStatusReason({ statusReason: reason });
      expect(error).toMatchObject({ status: 422, expression: 'Task.statusReason.text' });
    }
  });

  it('checks reason, transition and owner fields in that order', () => {
    const before = fixture<Task>(TASK_ACCEPTED);
    before.status = 'requested';
    const reject = {
      ...before,
      status: 'rejected' as const,
      statusReason: { text: 'At capacity' },
    };
    expect(checkTaskUpdate(before, reject, 'owner')).toBeUndefined();
    expect(checkTaskUpdate(before, { ...reject, statusReason: {} }, 'owner')?.expression).toBe(
      'Task.statusReason.text',
    );
    expect(checkTaskUpdate(before, reject, 'requester')?.status).toBe(403);
    expect(checkTaskUpdate(before, { ...reject, status: 'completed' }, 'owner')?.status).toBe(422);
    const sneaky = { ...reject, owner: { reference: 'Organization/me' } };
    expect(checkTaskUpdate(before, sneaky, 'owner')).toMatchObject({
      status: 403,
      expression: 'Task.owner',
    });
    // the requester may edit other elements (e.g. cancel with a note)
    const cancel = { ...before, status: 'cancelled' as const, note: [{ text: 'Patient moved' }] };
    expect(checkTaskUpdate(before, cancel, 'requester')).toBeUndefined();
  });
});

describe('isTaskStatusReachable', () => {
  it.each([
    ['requested', 'requested'],
    ['requested', 'accepted'],
    ['requested', 'in-progress'],
    ['requested', 'completed'],
    ['requested', 'cancelled'],
    ['accepted', 'on-hold'],
    ['on-hold', 'in-progress'],
    ['in-progress', 'on-hold'],
    ['in-progress', 'completed'],
    ['completed', 'entered-in-error'],
  ])('%s → %s is forward', (from, to) => {
    expect(isTaskStatusReachable(from, to)).toBe(true);
  });

  it.each([
    ['in-progress', 'accepted'],
    ['accepted', 'requested'],
    ['on-hold', 'requested'],
    ['cancelled', 'completed'],
    ['completed', 'in-progress'],
    ['rejected', 'accepted'],
    ['failed', 'completed'],
    ['entered-in-error', 'cancelled'],
    ['requested', 'ready'],
    ['nonsense', 'accepted'],
  ])('%s → %s goes back (or nowhere)', (from, to) => {
    expect(isTaskStatusReachable(from, to)).toBe(false);
  });
});
