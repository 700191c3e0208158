import type { FhirResourceChangedV1 } from '@carerelay/contracts';
import { newReferralFrom } from './referral-intake.rules';

const sourceTask = {
  resourceType: 'Task',
  status: 'requested',
  intent: 'order',
  code: { coding: [{ system: 'http://hl7.org/fhir/CodeSystem/task-code', code: 'fulfill' }] },
  focus: { reference: 'ServiceRequest/sr-1' },
  for: { reference: 'Patient/pat-1' },
  requester: { reference: 'Organization/hospital-a' },
};

const change = (
  resource: object,
  action: FhirResourceChangedV1['action'] = 'create',
): FhirResourceChangedV1 => ({
  resourceType: 'Task',
  id: 'task-1',
  versionId: '1',
  action,
  lastUpdated: '2026-11-23T10:00:00Z',
  organizations: ['hospital-a'],
  resource: resource as Record<string, unknown>,
});

describe('newReferralFrom', () => {
  it('takes a newly created requested fulfil order as a new referral', () => {
    expect(newReferralFrom(change(sourceTask))).toEqual({
      taskId: 'task-1',
      taskVersion: '1',
      requesterOrganizationId: 'hospital-a',
      patientId: 'pat-1',
      serviceRequestId: 'sr-1',
    });
  });

  it('reads ids out of absolute and versioned references', () => {
    const absolute = {
      ...sourceTask,
      for: { reference: 'https://ehr.example.org/fhir/Patient/p9/_history/2' },
    };
    expect(newReferralFrom(change(absolute))?.patientId).toBe('p9');
  });

  it.each([
    ['an update', change(sourceTask, 'update')],
    ['a CBO sub-task (partOf)', change({ ...sourceTask, partOf: [{ reference: 'Task/source' }] })],
    ['a draft', change({ ...sourceTask, status: 'draft' })],
    ['a filler-order', change({ ...sourceTask, intent: 'filler-order' })],
    ['another task code', change({ ...sourceTask, code: { coding: [{ code: 'approve' }] } })],
    ['another resource type', { ...change(sourceTask), resourceType: 'ServiceRequest' }],
  ])('ignores %s', (_label, candidate) => {
    expect(newReferralFrom(candidate)).toBeUndefined();
  });
});
