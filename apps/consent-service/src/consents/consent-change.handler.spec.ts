import { EventTypes, newCloudEvent, type FhirResourceChangedV1 } from '@carerelay/contracts';
import { ignoredByConsentLedger } from './consent-change.handler';

const change = (resourceType: string, type: string = EventTypes.fhirResourceChanged.type) =>
  newCloudEvent({
    source: '/test',
    type,
    data: {
      resourceType,
      id: 'x1',
      versionId: '1',
      action: 'create',
      lastUpdated: '2026-12-03T00:00:00Z',
      organizations: [],
    } as FhirResourceChangedV1,
  });

describe('ignoredByConsentLedger', () => {
  it('keeps a change of a Consent', () => {
    expect(ignoredByConsentLedger(change('Consent'))).toBe(false);
  });

  it.each(['Task', 'Patient', 'ServiceRequest'])('passes over a change of a %s', (type) => {
    expect(ignoredByConsentLedger(change(type))).toBe(true);
  });

  it('never passes over an event of another type', () => {
    expect(ignoredByConsentLedger(change('Task', 'org.carerelay.referral.routed.v1'))).toBe(false);
  });
});
