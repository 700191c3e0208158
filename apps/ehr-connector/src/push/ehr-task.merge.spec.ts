import { OWNER_MUTABLE_ELEMENTS } from '@carerelay/fhir';
import { CARERELAY_VERSION_EXTENSION } from '../fhir/ehr-identity';
import { mergeOntoEhrTask, type OwnerChanges } from './ehr-task.merge';

const EHR_EXTENSION = { url: 'http://hospital.example/ext/priority-flag', valueBoolean: true };

const ehrTask = (status: string, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Task',
  id: 'ehr-1',
  meta: { versionId: 'v1', lastUpdated: '2026-01-01T10:00:00.000Z' },
  status,
  intent: 'order',
  description: 'food pantry referral',
  note: [{ text: 'call after 5pm' }],
  extension: [EHR_EXTENSION],
  owner: { reference: 'Organization/carerelay-platform' },
  businessStatus: { text: 'ehr milestone' },
  ...extra,
});

const changes = (status: string, extra: Partial<OwnerChanges> = {}): OwnerChanges => ({
  version: 3,
  status,
  output: [],
  lastModified: '2026-01-02T10:00:00.000Z',
  allowBusinessStatus: true,
  ...extra,
});

describe('mergeOntoEhrTask', () => {
  it('writes the owner elements onto the EHR Task and keeps everything else', () => {
    const merge = mergeOntoEhrTask(
      ehrTask('requested'),
      changes('accepted', {
        statusReason: { text: 'capacity' },
        businessStatus: { text: 'accepted by CBO' },
        output: [{ type: { text: 'x' }, valueString: 'y' }],
      }),
    );
    expect(merge.kind).toBe('write');
    const task = (merge as { task: Record<string, unknown> }).task;
    expect(task).toMatchObject({
      status: 'accepted',
      statusReason: { text: 'capacity' },
      businessStatus: { text: 'accepted by CBO' },
      output: [{ type: { text: 'x' }, valueString: 'y' }],
      lastModified: '2026-01-02T10:00:00.000Z',
      description: 'food pantry referral',
      note: [{ text: 'call after 5pm' }],
      owner: { reference: 'Organization/carerelay-platform' },
      meta: { versionId: 'v1' },
    });
    expect(task.extension).toEqual([
      EHR_EXTENSION,
      { url: CARERELAY_VERSION_EXTENSION, valueInteger: 3 },
    ]);
    // Nothing but the owner's elements and the version extension differs.
    const before = ehrTask('requested') as Record<string, unknown>;
    const changed = Object.keys({ ...before, ...task }).filter(
      (k) => JSON.stringify(before[k]) !== JSON.stringify(task[k]),
    );
    const allowed = [...OWNER_MUTABLE_ELEMENTS, 'businessStatus', 'extension'];
    expect(changed.filter((k) => !allowed.includes(k))).toEqual([]);
  });

  it('leaves businessStatus to the EHR where the owner may not write it', () => {
    const merge = mergeOntoEhrTask(
      ehrTask('requested'),
      changes('accepted', { businessStatus: { text: 'ours' }, allowBusinessStatus: false }),
    );
    expect((merge as { task: Record<string, unknown> }).task.businessStatus).toEqual({
      text: 'ehr milestone',
    });
  });

  it.each(['cancelled', 'completed', 'rejected', 'failed', 'entered-in-error'])(
    'never writes over a %s EHR Task',
    (status) => {
      expect(mergeOntoEhrTask(ehrTask(status), changes('in-progress'))).toEqual({
        kind: 'regression',
        ehrStatus: status,
        carerelayStatus: 'in-progress',
      });
    },
  );

  it('a final EHR Task already in the same status is left alone, not counted as a regression', () => {
    expect(mergeOntoEhrTask(ehrTask('cancelled'), changes('cancelled')).kind).toBe('already-there');
  });

  it('moves the status only forward in the Task lifecycle', () => {
    expect(mergeOntoEhrTask(ehrTask('in-progress'), changes('accepted')).kind).toBe('regression');
    expect(mergeOntoEhrTask(ehrTask('on-hold'), changes('requested')).kind).toBe('regression');
    expect(mergeOntoEhrTask(ehrTask('on-hold'), changes('in-progress')).kind).toBe('write');
    expect(mergeOntoEhrTask(ehrTask('requested'), changes('completed')).kind).toBe('write');
  });

  it('names a status the EHR made up as unknown (it goes to logs and metric labels), and writes nothing', () => {
    expect(mergeOntoEhrTask(ehrTask('<script>'), changes('accepted'))).toEqual({
      kind: 'regression',
      ehrStatus: 'unknown',
      carerelayStatus: 'accepted',
    });
  });

  it('a version the EHR holds already (or an older one) is not written', () => {
    const holding = ehrTask('accepted', {
      extension: [{ url: CARERELAY_VERSION_EXTENSION, valueInteger: 3 }],
    });
    expect(mergeOntoEhrTask(holding, changes('in-progress')).kind).toBe('already-there');
  });
});
