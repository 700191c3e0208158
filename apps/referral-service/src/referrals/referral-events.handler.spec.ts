import { EventTypes, newCloudEvent, type FhirResourceChangedV1 } from '@carerelay/contracts';
import { ignoredByReferralWorkflow, ownSourceTaskVersion } from './referral-events.handler';

const change = (data: Partial<FhirResourceChangedV1>) =>
  newCloudEvent({
    source: '/test',
    type: EventTypes.fhirResourceChanged.type,
    data: { id: 'x', versionId: '1', ...data } as FhirResourceChangedV1,
  });

const newReferralTask = {
  resourceType: 'Task',
  status: 'requested',
  intent: 'order',
  code: { coding: [{ system: 'http://hl7.org/fhir/CodeSystem/task-code', code: 'fulfill' }] },
};

describe('ignoredByReferralWorkflow', () => {
  it('passes over changes of other resources and created Tasks that are not referrals', () => {
    expect(
      ignoredByReferralWorkflow(
        change({
          resourceType: 'Patient',
          action: 'create',
          resource: { resourceType: 'Patient' },
        }),
      ),
    ).toBe(true);
    expect(
      ignoredByReferralWorkflow(
        change({
          resourceType: 'Task',
          action: 'create',
          resource: { ...newReferralTask, partOf: [{ reference: 'Task/source' }] },
        }),
      ),
    ).toBe(true);
    expect(ignoredByReferralWorkflow(change({ resourceType: 'Task', action: 'delete' }))).toBe(
      true,
    );
  });

  it('keeps new referrals, every Task update, and events of other types', () => {
    expect(
      ignoredByReferralWorkflow(
        change({ resourceType: 'Task', action: 'create', resource: newReferralTask }),
      ),
    ).toBe(false);
    expect(
      ignoredByReferralWorkflow(
        change({ resourceType: 'Task', action: 'update', resource: { status: 'accepted' } }),
      ),
    ).toBe(false);
    const consent = newCloudEvent({
      source: '/test',
      type: EventTypes.consentGranted.type,
      data: { patientId: 'p' },
    });
    expect(ignoredByReferralWorkflow(consent)).toBe(false);
  });
});

describe('ownSourceTaskVersion', () => {
  const gateway = {
    ownSourceTaskVersion: (id: string, versionId: string) => id === 'source' && versionId === '3',
  };

  it('passes over the versions of a source Task the workflow wrote', () => {
    const ours = change({
      resourceType: 'Task',
      id: 'source',
      versionId: '3',
      action: 'update',
      resource: { status: 'accepted' },
    });
    expect(ownSourceTaskVersion(ours, gateway)).toBe(true);
  });

  it("keeps other writers' versions, cancellations, creates and other events", () => {
    const update = (data: Partial<FhirResourceChangedV1>) =>
      change({ resourceType: 'Task', id: 'source', action: 'update', ...data });
    expect(ownSourceTaskVersion(update({ versionId: '4', resource: {} }), gateway)).toBe(false);
    expect(
      ownSourceTaskVersion(update({ versionId: '3', resource: { status: 'cancelled' } }), gateway),
    ).toBe(false);
    expect(
      ownSourceTaskVersion(
        change({ resourceType: 'Task', id: 'source', versionId: '3', action: 'create' }),
        gateway,
      ),
    ).toBe(false);
    const consent = newCloudEvent({
      source: '/test',
      type: EventTypes.consentGranted.type,
      data: { patientId: 'p' },
    });
    expect(ownSourceTaskVersion(consent, gateway)).toBe(false);
  });
});
