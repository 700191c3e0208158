import { EventTypes, newCloudEvent, type FhirResourceChangedV1 } from '@carerelay/contracts';
import { ignoredByAnalytics } from './analytics-events.handler';

const change = (data: Partial<FhirResourceChangedV1>) =>
  newCloudEvent({
    source: '/test',
    type: EventTypes.fhirResourceChanged.type,
    data: { id: 'x', versionId: '1', action: 'update', ...data } as FhirResourceChangedV1,
  });

describe('ignoredByAnalytics', () => {
  it('takes in changes of the resources the read model follows', () => {
    for (const resourceType of ['Patient', 'ServiceRequest', 'Task', 'Coverage'])
      expect(ignoredByAnalytics(change({ resourceType, resource: { resourceType } }))).toBe(false);
  });

  it('passes over other resources, deletes and changes without a resource', () => {
    expect(
      ignoredByAnalytics(
        change({ resourceType: 'Consent', resource: { resourceType: 'Consent' } }),
      ),
    ).toBe(true);
    expect(ignoredByAnalytics(change({ resourceType: 'Task', action: 'delete' }))).toBe(true);
    expect(ignoredByAnalytics(change({ resourceType: 'Task' }))).toBe(true);
  });

  it('never passes over events of other types', () => {
    const granted = newCloudEvent({
      source: '/test',
      type: EventTypes.consentGranted.type,
      data: { patientId: 'p' },
    });
    expect(ignoredByAnalytics(granted)).toBe(false);
  });
});
