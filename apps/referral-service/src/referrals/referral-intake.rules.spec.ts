import type { FhirResourceChangedV1 } from '@carerelay/contracts';
import { awaitsLocalCopies, newReferralFrom } from './referral-intake.rules';

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

  it("reads ids out of versioned references and absolute ones on this server, not another's", () => {
    const local = 'https://carerelay.example/fhir';
    const absolute = {
      ...sourceTask,
      for: { reference: `${local}/Patient/p9/_history/2` },
      focus: { reference: `${local}/ServiceRequest/sr9` },
    };
    expect(newReferralFrom(change(absolute), [local])).toMatchObject({
      patientId: 'p9',
      serviceRequestId: 'sr9',
    });
    // A Patient of the EHR's own server is not one of this server's.
    const foreign = {
      ...sourceTask,
      for: { reference: 'https://ehr.example.org/fhir/Patient/p9' },
    };
    expect(newReferralFrom(change(foreign), [local])?.patientId).toBeUndefined();
  });

  it('takes in a Task moved to requested by an update (drafted first)', () => {
    expect(newReferralFrom(change(sourceTask, 'update'))?.taskId).toBeDefined();
  });

  it.each([
    ['a deletion', change(sourceTask, 'delete')],
    ['an update that is still a draft', change({ ...sourceTask, status: 'draft' }, 'update')],
    ['a CBO sub-task (partOf)', change({ ...sourceTask, partOf: [{ reference: 'Task/source' }] })],
    ['a draft', change({ ...sourceTask, status: 'draft' })],
    ['a filler-order', change({ ...sourceTask, intent: 'filler-order' })],
    ['another task code', change({ ...sourceTask, code: { coding: [{ code: 'approve' }] } })],
    ['another resource type', { ...change(sourceTask), resourceType: 'ServiceRequest' }],
  ])('ignores %s', (_label, candidate) => {
    expect(newReferralFrom(candidate)).toBeUndefined();
  });
});

describe('awaitsLocalCopies', () => {
  const local = 'http://localhost:8080/fhir';

  it('waits while focus or for is an absolute URL on another server', () => {
    expect(
      awaitsLocalCopies({ focus: { reference: 'https://ehr.example.org/fhir/ServiceRequest/1' } }, [
        local,
      ]),
    ).toBe(true);
    expect(
      awaitsLocalCopies(
        {
          focus: { reference: 'ServiceRequest/sr-1' },
          for: { reference: 'https://ehr.example.org/fhir/Patient/9' },
        },
        [local],
      ),
    ).toBe(true);
  });

  it('does not wait for references on this server, relative or absolute', () => {
    expect(awaitsLocalCopies(sourceTask, [local])).toBe(false);
    expect(
      awaitsLocalCopies({ focus: { reference: `${local}/ServiceRequest/sr-1` } }, [local]),
    ).toBe(false);
  });
});
