import type { Consent } from '@medplum/fhirtypes';
import {
  boundariesAfter,
  consentDecisionFrom,
  grantChanges,
  grantsInForce,
  WHOLE_NETWORK,
} from './index';

const IRCP = {
  coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }],
};
const consent = (
  id: string,
  provision: Consent['provision'] = {},
  status: Consent['status'] = 'active',
) =>
  consentDecisionFrom({
    resourceType: 'Consent',
    id,
    status,
    scope: { coding: [{ code: 'patient-privacy' }] },
    category: [{ coding: [{ code: 'IDSCL' }] }],
    patient: { reference: 'Patient/p1' },
    provision,
  });
const to = (...orgs: string[]) =>
  orgs.map((org) => ({ role: IRCP, reference: { reference: `Organization/${org}` } }));
const NOW = new Date('2025-06-15T12:00:00Z');

describe('grantsInForce', () => {
  it('lists each permit per recipient, the whole network as *', () => {
    const grants = grantsInForce([consent('a', { actor: to('x', 'y') }), consent('n')], NOW);
    expect(grants.map((g) => `${g.kind}:${g.consentId}:${g.organizationKey}`)).toEqual([
      'permit:a:x',
      'permit:a:y',
      `permit:n:${WHOLE_NETWORK}`,
    ]);
  });

  it('holds back permits a deny covers and lists the deny', () => {
    const grants = grantsInForce(
      [
        consent('a', { actor: to('x', 'y') }),
        consent('n'),
        consent('d', { type: 'deny', actor: to('x') }),
      ],
      NOW,
    );
    expect(grants.map((g) => `${g.kind}:${g.consentId}:${g.organizationKey}`)).toEqual([
      'deny:d:x',
      'permit:a:y',
      'permit:n:*',
    ]);
    const all = grantsInForce(
      [consent('a', { actor: to('x') }), consent('d', { type: 'deny' })],
      NOW,
    );
    expect(all.map((g) => `${g.kind}:${g.consentId}`)).toEqual(['deny:d']);
  });

  it('leaves out what is not in force and partial denies', () => {
    expect(
      grantsInForce(
        [
          consent('old', { period: { end: '2025-01-01' } }),
          consent('later', { period: { start: '2025-07-01' } }),
          consent('off', {}, 'inactive'),
          consent('p2deny', { type: 'deny', securityLabel: [{ code: '42CFRPart2' }] }),
        ],
        NOW,
      ),
    ).toEqual([]);
  });
});

describe('grantChanges', () => {
  it('grants new permits, revokes lost ones, and calls a permit that ran out expired', () => {
    const running = consent('r', { period: { end: '2025-06-15T12:00:00Z' } });
    const announced = grantsInForce([running, consent('gone')], new Date('2025-06-15T11:00:00Z'));
    const later = new Date('2025-06-15T12:00:05Z');
    const current = grantsInForce([running, consent('new')], later);
    const changes = grantChanges(announced, current, later);
    expect(changes.map((c) => `${c.kind}:${c.grant.consentId}:${c.occurredAt}`)).toEqual([
      'revoked:gone:2025-06-15T12:00:05.000Z',
      'expired:r:2025-06-15T12:00:01.000Z',
      'granted:new:2025-06-15T12:00:05.000Z',
    ]);
  });

  it('a deny coming into force is announced as revoked; lifting it grants the permits again', () => {
    const permit = consent('p', { actor: to('x') });
    const deny = consent('d', { type: 'deny', actor: to('x') });
    const before = grantsInForce([permit], NOW);
    const during = grantsInForce([permit, deny], NOW);
    expect(grantChanges(before, during, NOW).map((c) => `${c.kind}:${c.grant.consentId}`)).toEqual([
      'revoked:p',
      'revoked:d',
    ]);
    const after = grantsInForce(
      [permit, consent('d', { type: 'deny', actor: to('x') }, 'inactive')],
      NOW,
    );
    expect(grantChanges(during, after, NOW).map((c) => `${c.kind}:${c.grant.consentId}`)).toEqual([
      'granted:p',
    ]);
  });

  it('lifting a deny of one organization announces the network-wide permit again', () => {
    const network = consent('n');
    const deny = consent('d', { type: 'deny', actor: to('x') });
    const during = grantsInForce([network, deny], NOW);
    expect(grantChanges(grantsInForce([network], NOW), during, NOW)).toEqual([
      expect.objectContaining({
        kind: 'revoked',
        grant: expect.objectContaining({ consentId: 'd', organizationKey: 'x' }),
      }),
    ]);
    const after = grantsInForce([network], NOW);
    expect(grantChanges(during, after, NOW)).toEqual([
      expect.objectContaining({
        kind: 'granted',
        grant: expect.objectContaining({ consentId: 'n', organizationKey: WHOLE_NETWORK }),
      }),
    ]);
  });

  it('a period cut short into the past is a revocation, not an expiry', () => {
    const announced = grantsInForce([consent('c', { period: { end: '2025-12-31' } })], NOW);
    const current = grantsInForce([consent('c', { period: { end: '2025-06-01' } })], NOW);
    expect(grantChanges(announced, current, NOW).map((c) => c.kind)).toEqual(['revoked']);
  });

  it('nothing changes, nothing is announced', () => {
    const grants = grantsInForce([consent('n')], NOW);
    expect(grantChanges(grants, grants, NOW)).toEqual([]);
  });
});

describe('boundariesAfter', () => {
  it('lists future starts and ends, in order, once each', () => {
    const decisions = [
      consent('a', { period: { start: '2025-07-01', end: '2025-08-01' } }),
      consent('b', { period: { start: '2025-01-01', end: '2025-07-01' } }),
    ];
    expect(boundariesAfter(decisions, NOW).map((d) => d.toISOString())).toEqual([
      '2025-07-01T00:00:00.000Z',
      '2025-07-02T00:00:00.000Z', // b ends with the whole of 2025-07-01
      '2025-08-02T00:00:00.000Z',
    ]);
  });
});
