import { EventTypes, newCloudEvent, type FhirResourceChangedV1 } from '@carerelay/contracts';
import { ignoredByReferralWorkflow } from './referral-events.handler';

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
