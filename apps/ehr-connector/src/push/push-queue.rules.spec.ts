import { EventTypes, newCloudEvent, type FhirResourceChangedV1 } from '@carerelay/contracts';
import { ignoredByPushQueue } from './push-queue.rules';

const change = (fields: Partial<FhirResourceChangedV1>) =>
  newCloudEvent({
    source: '/test',
    type: EventTypes.fhirResourceChanged.type,
    data: {
      resourceType: 'Task',
      id: 't1',
      versionId: '2',
      action: 'update',
      lastUpdated: '2026-12-03T00:00:00Z',
      organizations: [],
      resource: {
        resourceType: 'Task',
        id: 't1',
        identifier: [{ system: 'https://ehr.example.org/fhir/Task', value: 'ehr-7' }],
      },
      ...fields,
    } as FhirResourceChangedV1,
  });

describe('ignoredByPushQueue', () => {
  it('keeps an update of a Task that names an EHR Task', () => {
    expect(ignoredByPushQueue(change({}))).toBe(false);
  });

  it.each([
    ['no identifier', undefined],
    [
      'a platform identifier only (a CBO Task)',
      [{ system: 'https://carerelay.example/fhir/identifier/cbo-task', value: 'r1-1' }],
    ],
    ['an EHR Task identifier without a value', [{ system: 'https://ehr.example.org/fhir/Task' }]],
    [
      'an identifier that is not a list',
      { system: 'https://ehr.example.org/fhir/Task', value: 'x' },
    ],
  ])('passes over an update of a Task with %s', (_what, identifier) => {
    const resource = {
      resourceType: 'Task',
      id: 't1',
      identifier,
    } as FhirResourceChangedV1['resource'];
    expect(ignoredByPushQueue(change({ resource }))).toBe(true);
  });

  it.each([
    ['a create', { action: 'create' as const }],
    ['a delete', { action: 'delete' as const }],
    ['another resource type', { resourceType: 'Patient' }],
    ['a change without its resource', { resource: undefined }],
  ])('passes over %s', (_what, fields) => {
    expect(ignoredByPushQueue(change(fields))).toBe(true);
  });

  it('never passes over an event of another type', () => {
    expect(ignoredByPushQueue({ ...change({ resourceType: 'Patient' }), type: 'other' })).toBe(
      false,
    );
  });
});
