import {
  EventTypes,
  REFERRAL_STATES,
  newCloudEvent,
  type ReferralState,
} from '@carerelay/contracts';
import { referralEvent } from '@carerelay/testing';
import { routeUnchangedBy } from './referral-route.rules';

const announced = (state: ReferralState) =>
  referralEvent('ref-1', state, { patientId: 'pat-1', targetOrganizationId: 'cbo-1' });

describe('routeUnchangedBy', () => {
  it('keeps the events that name the patient or route the referral', () => {
    for (const state of ['requested', 'awaiting-consent', 'routed', 'rerouted'] as const)
      expect(routeUnchangedBy(announced(state))).toBe(false);
  });

  it('passes over the events that only repeat the current route', () => {
    const repeating = REFERRAL_STATES.filter(
      (s) => !['requested', 'awaiting-consent', 'routed', 'rerouted'].includes(s),
    );
    expect(repeating).toEqual([
      'accepted',
      'rejected',
      'in-progress',
      'on-hold',
      'completed',
      'cancelled',
      'failed',
    ]);
    for (const state of repeating) expect(routeUnchangedBy(announced(state))).toBe(true);
  });

  it('never passes over other events (a Consent change is the ledger’s)', () => {
    const change = newCloudEvent({
      source: '/carerelay/fhir-api',
      type: EventTypes.fhirResourceChanged.type,
      subject: 'Consent/c-1',
      data: {
        resourceType: 'Consent',
        id: 'c-1',
        versionId: '1',
        action: 'create' as const,
        lastUpdated: new Date().toISOString(),
        organizations: [],
      },
    });
    expect(routeUnchangedBy(change)).toBe(false);
  });
});
