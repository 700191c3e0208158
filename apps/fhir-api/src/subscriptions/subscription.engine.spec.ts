import type { FhirResourceChangedV1 } from '@carerelay/contracts';
import { notifiable } from './subscription.engine';

const change = (over: Partial<FhirResourceChangedV1>): FhirResourceChangedV1 =>
  ({
    resourceType: 'Task',
    id: 't1',
    versionId: '2',
    action: 'update',
    lastUpdated: '2026-01-01T00:00:00Z',
    resource: { resourceType: 'Task', status: 'accepted' },
    ...over,
  }) as FhirResourceChangedV1;

describe('which FHIR changes the subscription engine takes in', () => {
  it('takes created and updated Tasks that carry the resource', () => {
    expect(notifiable(change({ action: 'create' }))).toBe(true);
    expect(notifiable(change({ action: 'update' }))).toBe(true);
  });

  it('passes over other resources, deletions and changes without the resource', () => {
    expect(notifiable(change({ resourceType: 'Patient' }))).toBe(false);
    expect(notifiable(change({ resourceType: 'AuditEvent', action: 'create' }))).toBe(false);
    expect(notifiable(change({ action: 'delete' }))).toBe(false);
    expect(notifiable(change({ resource: undefined }))).toBe(false);
    expect(notifiable(undefined)).toBe(false);
  });
});
