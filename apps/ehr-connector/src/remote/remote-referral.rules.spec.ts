import { EventTypes, newCloudEvent, type FhirResourceChangedV1 } from '@carerelay/contracts';
import { afterFailure, ignoredByConnector, remoteReferencesOf } from './remote-referral.rules';

const CARERELAY = 'http://localhost:8080/fhir';
const EHR = 'https://ehr.example.org/fhir';

const referral = {
  resourceType: 'Task',
  status: 'requested',
  intent: 'order',
  code: { coding: [{ system: 'http://hl7.org/fhir/CodeSystem/task-code', code: 'fulfill' }] },
  focus: { reference: `${EHR}/ServiceRequest/123` },
  for: { reference: `${EHR}/Patient/9` },
  requester: { reference: 'Organization/hosp' },
};

const change = (
  resource: object | undefined,
  action: FhirResourceChangedV1['action'] = 'create',
): FhirResourceChangedV1 => ({
  resourceType: 'Task',
  id: 't1',
  versionId: '1',
  action,
  lastUpdated: '2026-12-03T00:00:00Z',
  organizations: [],
  resource: resource as FhirResourceChangedV1['resource'],
});

describe('remoteReferencesOf', () => {
  it('names the focus and for of a referral Task that are on another server', () => {
    expect(remoteReferencesOf(change(referral), CARERELAY)).toEqual({
      focus: `${EHR}/ServiceRequest/123`,
      for: `${EHR}/Patient/9`,
    });
    expect(
      remoteReferencesOf(change({ ...referral, for: { reference: 'Patient/p' } }), CARERELAY),
    ).toEqual({ focus: `${EHR}/ServiceRequest/123`, for: undefined });
  });

  it.each([
    ['local references', { ...referral, focus: { reference: 'ServiceRequest/1' }, for: undefined }],
    [
      "absolute URLs of CareRelay's own base",
      { ...referral, focus: { reference: `${CARERELAY}/ServiceRequest/1` }, for: undefined },
    ],
    ['a draft', { ...referral, status: 'draft' }],
    ['a CBO sub-Task', { ...referral, partOf: [{ reference: 'Task/x' }] }],
    ['another code', { ...referral, code: { coding: [{ code: 'approve' }] } }],
  ])('names nothing for %s', (_what, task) => {
    expect(remoteReferencesOf(change(task), CARERELAY)).toBeUndefined();
  });

  it('names nothing for a deletion or a change without its resource', () => {
    expect(remoteReferencesOf(change(referral, 'delete'), CARERELAY)).toBeUndefined();
    expect(remoteReferencesOf(change(undefined), CARERELAY)).toBeUndefined();
  });
});

describe('ignoredByConnector', () => {
  const event = (data: FhirResourceChangedV1) =>
    newCloudEvent({ source: '/test', type: EventTypes.fhirResourceChanged.type, data });
  const ignores = ignoredByConnector(CARERELAY);

  it('keeps updates of Tasks naming an EHR Task (push) and referral Tasks naming the EHR', () => {
    const inCareRelay = {
      ...referral,
      status: 'accepted',
      focus: { reference: 'ServiceRequest/1' },
      for: { reference: 'Patient/1' },
    };
    const named = { ...inCareRelay, identifier: [{ system: `${EHR}/Task`, value: '55' }] };
    expect(ignores(event(change(named, 'update')))).toBe(false);
    expect(ignores(event(change(referral, 'update')))).toBe(false);
    expect(ignores(event(change(referral)))).toBe(false);
    // A CBO Task's updates: nothing to push, nothing to fetch.
    expect(ignores(event(change(inCareRelay, 'update')))).toBe(true);
  });

  it('passes over other creates, other types and changes without their resource', () => {
    expect(
      ignores(
        event(change({ ...referral, focus: { reference: 'ServiceRequest/1' }, for: undefined })),
      ),
    ).toBe(true);
    expect(ignores(event({ ...change(referral), resourceType: 'Patient' }))).toBe(true);
    expect(ignores(event(change(undefined, 'update')))).toBe(true);
  });
});

describe('afterFailure', () => {
  const policy = {
    maxAttempts: 3,
    initialBackoffMs: 100,
    maxBackoffMs: 1000,
    giveUpAfterMs: 60_000,
  };
  const t0 = new Date('2026-12-03T10:00:00Z');

  it('backs off exponentially with full jitter, never below the initial delay', () => {
    const delay = (attempts: number, random: number) =>
      afterFailure({ transient: true, attempts, firstSeenAt: t0, now: t0 }, policy, () => random);
    expect(delay(1, 1)).toEqual({ giveUp: false, delayMs: 100 });
    expect(delay(3, 1)).toEqual({ giveUp: false, delayMs: 400 });
    expect(delay(10, 1)).toEqual({ giveUp: false, delayMs: 1000 });
    expect(delay(10, 0)).toEqual({ giveUp: false, delayMs: 100 });
  });

  it('gives a refusal up after maxAttempts, an unreachable EHR after giveUpAfterMs', () => {
    expect(
      afterFailure({ transient: false, attempts: 3, firstSeenAt: t0, now: t0 }, policy),
    ).toEqual({
      giveUp: true,
    });
    expect(
      afterFailure({ transient: true, attempts: 50, firstSeenAt: t0, now: t0 }, policy).giveUp,
    ).toBe(false);
    const later = new Date(t0.getTime() + 60_000);
    expect(
      afterFailure({ transient: true, attempts: 2, firstSeenAt: t0, now: later }, policy),
    ).toEqual({
      giveUp: true,
    });
  });
});
