import type { Coding, Consent } from '@medplum/fhirtypes';
import {
  decisionsOf,
  DEFAULT_PURPOSE_OF_USE,
  discloseData,
  labelsOnDisclosure,
  NO_REDISCLOSURE,
  PART2_LABEL,
} from './index';

const NOW = new Date('2025-06-15T12:00:00Z');
const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
const PART2: Coding = { system: ACT_CODE, code: PART2_LABEL };
const PSY: Coding = { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'PSY' };
const RESTRICTED: Coding = {
  system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality',
  code: 'R',
};
const NORMAL: Coding = { ...RESTRICTED, code: 'N' };

const consent = (id: string, provision: Consent['provision'], extra: Partial<Consent> = {}) =>
  ({
    resourceType: 'Consent',
    id,
    status: 'active',
    scope: { coding: [{ code: 'patient-privacy' }] },
    category: [{ coding: [{ code: '59284-0' }] }],
    patient: { reference: 'Patient/p-1' },
    provision,
    ...extra,
  }) as Consent;
const toCbo = (org = 'cbo-a') => ({
  role: {
    coding: [
      { system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' },
    ],
  },
  reference: { reference: `Organization/${org}` },
});
const cbo = (purpose = DEFAULT_PURPOSE_OF_USE, organizationId = 'cbo-a') => ({
  organizationId,
  purpose,
  at: NOW,
});
const data = (...security: Coding[]) => ({ patientId: 'p-1', security });

describe('discloseData', () => {
  const networkPermit = consent('network', { type: 'permit' });
  const namedPermit = consent('named', { type: 'permit', actor: [toCbo()] });
  const namedPart2 = consent('named-p2', {
    type: 'permit',
    actor: [toCbo()],
    securityLabel: [PART2],
  });

  it('discloses unlabelled data under a permit, labels unchanged', () => {
    const answer = discloseData(decisionsOf([networkPermit]), data(NORMAL), cbo());
    expect(answer).toMatchObject({ allowed: true, consentId: 'network', labels: ['N'] });
    expect(answer.security).toEqual([NORMAL]);
  });

  it('withholds 42 CFR Part 2 data unless a permit names the recipient and covers Part 2', () => {
    expect(discloseData(decisionsOf([namedPermit]), data(PART2), cbo())).toMatchObject({
      allowed: false,
      code: 'labels-not-covered',
      labels: [PART2_LABEL],
    });
    const networkPart2 = consent('n-p2', { type: 'permit', securityLabel: [PART2] });
    expect(discloseData(decisionsOf([networkPart2]), data(PART2), cbo())).toMatchObject({
      allowed: false,
      code: 'part2-needs-named-recipient',
    });
    expect(
      discloseData(decisionsOf([namedPart2]), data(PART2), cbo('TREAT', 'cbo-b')),
    ).toMatchObject({ allowed: false });
  });

  it('adds the prohibition on redisclosure (NORDSCLCD) to disclosed Part 2 data, once', () => {
    const answer = discloseData(decisionsOf([namedPart2]), data(PART2), cbo());
    expect(answer).toMatchObject({ allowed: true, consentId: 'named-p2' });
    expect(answer.security).toEqual([PART2, NO_REDISCLOSURE]);
    expect(labelsOnDisclosure(answer.security)).toEqual([PART2, NO_REDISCLOSURE]);
    expect(labelsOnDisclosure([RESTRICTED])).toEqual([RESTRICTED]);
    expect(labelsOnDisclosure(undefined)).toEqual([]);
  });

  it('needs explicit consent for the other sensitive labels (PSY, R), not for N', () => {
    expect(discloseData(decisionsOf([namedPermit]), data(PSY), cbo())).toMatchObject({
      allowed: false,
      code: 'labels-not-covered',
    });
    expect(discloseData(decisionsOf([namedPermit]), data(RESTRICTED), cbo())).toMatchObject({
      allowed: false,
    });
    const coversPsy = consent('psy', { type: 'permit', securityLabel: [PSY, RESTRICTED] });
    const answer = discloseData(decisionsOf([coversPsy]), data(PSY, RESTRICTED), cbo());
    expect(answer).toMatchObject({ allowed: true });
    // only Part 2 data carries the redisclosure prohibition
    expect(answer.security).toEqual([PSY, RESTRICTED]);
  });

  it('a purpose-limited permit discloses only for that purpose', () => {
    const research = consent('research', {
      type: 'permit',
      actor: [toCbo()],
      purpose: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'HRESCH' }],
    });
    expect(discloseData(decisionsOf([research]), data(), cbo('HRESCH'))).toMatchObject({
      allowed: true,
    });
    expect(discloseData(decisionsOf([research]), data(), cbo())).toMatchObject({
      allowed: false,
      code: 'purpose-not-covered',
    });
  });

  it('a label-scoped deny withholds only the data with that label', () => {
    const denyPsy = consent('deny-psy', { type: 'deny', securityLabel: [PSY] });
    const decisions = decisionsOf([networkPermit, denyPsy]);
    expect(discloseData(decisions, data(), cbo())).toMatchObject({ allowed: true });
    expect(discloseData(decisions, data(PSY), cbo())).toMatchObject({
      allowed: false,
      code: 'denied',
      consentId: 'deny-psy',
    });
  });

  it('a purpose-scoped deny applies only to that purpose', () => {
    const denyMarketing = consent('deny-mkt', { type: 'deny', purpose: [{ code: 'HMARKT' }] });
    const decisions = decisionsOf([networkPermit, denyMarketing]);
    expect(discloseData(decisions, data(), cbo())).toMatchObject({ allowed: true });
    expect(discloseData(decisions, data(), cbo('HMARKT'))).toMatchObject({ allowed: false });
  });
});

describe('decisionsOf', () => {
  it('skips consents no decision can be made of', () => {
    const broken = { resourceType: 'Consent', id: 'x', status: 'active' } as Consent;
    expect(
      decisionsOf([broken, consent('ok', { type: 'permit' })]).map((d) => d.consentId),
    ).toEqual(['ok']);
  });
});
