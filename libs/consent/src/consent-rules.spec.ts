import type { Consent } from '@medplum/fhirtypes';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  ConsentDecision,
  ConsentFormatError,
  consentDecisionFrom,
  fhirInstantBounds,
  isDisclosureAllowed,
  isInForce,
  isNewerVersion,
  PART2_LABEL,
} from './index';

const IG_EXAMPLE: Consent = JSON.parse(
  readFileSync(
    path.join(
      __dirname,
      '../test-fixtures/Consent-SDOHCC-ConsentInformationDisclosureExample.json',
    ),
    'utf8',
  ),
);

const IRCP = {
  coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }],
};
const recipient = (org: string) => ({
  role: IRCP,
  reference: { reference: `Organization/${org}` },
});
const PART2 = { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: PART2_LABEL };
const RESTRICTED = {
  system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality',
  code: 'R',
};

/** The IG example with changes; the example itself stays untouched. */
const mutate = (changes: Partial<Consent>, id = 'c-1'): Consent => ({
  ...structuredClone(IG_EXAMPLE),
  id,
  ...changes,
});
const decide = (changes: Partial<Consent>, id?: string) => consentDecisionFrom(mutate(changes, id));

const NOW = new Date('2025-06-15T12:00:00Z');
const PATIENT = 'pat-53234';
const ask = (
  decisions: ConsentDecision[],
  organizationId = 'cbo-food',
  extra: { labels?: string[]; purpose?: string; at?: Date } = {},
) => isDisclosureAllowed(decisions, { patientId: PATIENT, organizationId, at: NOW, ...extra });

describe('consentDecisionFrom', () => {
  it('reads the IG example as an active network-wide permit; Consent.organization is the custodian', () => {
    expect(consentDecisionFrom(IG_EXAMPLE)).toEqual({
      consentId: 'SDOHCC-ConsentInformationDisclosureExample',
      patientId: 'pat-53234',
      organizationIds: null,
      custodianOrganizationId: 'SDOHCC-OrganizationPayerExample',
      status: 'active',
      provision: 'permit',
      periodStart: null,
      periodEnd: null,
      purposes: [],
      securityLabels: [],
      provisionLabels: [],
      dateTime: '2021-05-01T00:00:00.000Z',
      problems: [],
    });
  });

  it('takes recipients from provision.actor with role IRCP only', () => {
    const decision = decide({
      provision: {
        type: 'permit',
        actor: [
          recipient('cbo-b'),
          recipient('cbo-a'),
          {
            role: { coding: [{ code: 'CST' }] },
            reference: { reference: 'Organization/hospital' },
          },
        ],
        period: { start: '2025-01-01', end: '2025-12-31' },
        purpose: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'TREAT' }],
        securityLabel: [PART2],
      },
      meta: { security: [RESTRICTED] },
    });
    expect(decision).toMatchObject({
      organizationIds: ['cbo-a', 'cbo-b'],
      provision: 'permit',
      periodStart: '2025-01-01T00:00:00.000Z',
      // the whole last day is inside the period
      periodEnd: '2026-01-01T00:00:00.000Z',
      purposes: ['TREAT'],
      securityLabels: [PART2_LABEL, 'R'],
      provisionLabels: [PART2_LABEL],
      problems: [],
    });
  });

  it('accepts absolute references and rejects what no decision can be made of', () => {
    expect(
      decide({
        patient: { reference: 'https://ehr.example.org/fhir/Patient/p-9/_history/2' },
        provision: {
          actor: [{ role: IRCP, reference: { reference: 'https://x.org/Organization/o-1' } }],
        },
      }),
    ).toMatchObject({ patientId: 'p-9', organizationIds: ['o-1'] });
    expect(() => decide({ patient: { reference: 'Group/g' } })).toThrow(ConsentFormatError);
    expect(() => decide({ status: 'unknown' as Consent['status'] })).toThrow(/status/);
    expect(() => decide({ id: undefined })).toThrow(/id/);
  });

  it('names a fixed code for what it cannot read and never quotes the value', () => {
    const codeOf = (patch: Partial<Consent>) => {
      try {
        decide(patch);
      } catch (error) {
        const e = error as ConsentFormatError;
        expect(e.message).not.toMatch(/Quintessa|1931/);
        return e.code;
      }
      return undefined;
    };
    expect(codeOf({ status: 'Quintessa 1931-07-19' as Consent['status'] })).toBe('status-unknown');
    expect(codeOf({ provision: { type: 'Quintessa 1931-07-19' as 'permit' } })).toBe(
      'provision-type-unknown',
    );
    expect(codeOf({ patient: { reference: 'Group/g' } })).toBe('patient-not-a-patient-reference');
  });

  it('records what it cannot interpret: nested provisions, non-Organization recipients, bad dates', () => {
    const nested = decide({ provision: { type: 'permit', provision: [{ type: 'deny' }] } });
    expect(nested.problems).toEqual(['nested provisions (exceptions) are not interpreted']);
    const person = decide({
      provision: {
        type: 'permit',
        actor: [{ role: IRCP, reference: { reference: 'Practitioner/x' } }],
      },
    });
    expect(person.organizationIds).toEqual([]);
    expect(person.problems).toHaveLength(1);
    // a deny whose recipient cannot be read denies everyone (fail closed)
    const personDeny = decide({
      provision: {
        type: 'deny',
        actor: [{ role: IRCP, reference: { reference: 'Practitioner/x' } }],
      },
    });
    expect(personDeny.organizationIds).toBeNull();
    expect(decide({ provision: { period: { end: 'tomorrow' } } }).problems).toEqual([
      'provision.period.end is not a FHIR dateTime',
    ]);
  });
});

describe('fhirInstantBounds', () => {
  it('reads each precision as the interval it stands for', () => {
    const iso = (value: string) => {
      const b = fhirInstantBounds(value)!;
      return [new Date(b.start).toISOString(), new Date(b.end).toISOString()];
    };
    expect(iso('2025')).toEqual(['2025-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z']);
    expect(iso('2024-02')).toEqual(['2024-02-01T00:00:00.000Z', '2024-03-01T00:00:00.000Z']);
    expect(iso('2025-03-04T10:00:00+02:00')).toEqual([
      '2025-03-04T08:00:00.000Z',
      '2025-03-04T08:00:01.000Z',
    ]);
    expect(iso('2025-03-04T10:00:00.250Z')).toEqual([
      '2025-03-04T10:00:00.250Z',
      '2025-03-04T10:00:00.251Z',
    ]);
    expect(fhirInstantBounds('2025-02-30')).toBeUndefined();
    expect(fhirInstantBounds('2025-03-04T10:00:00')).toBeUndefined(); // a time needs a zone
    expect(fhirInstantBounds(42)).toBeUndefined();
  });
});

describe('isDisclosureAllowed', () => {
  const network = decide({}, 'network');
  const named = decide({ provision: { type: 'permit', actor: [recipient('cbo-food')] } }, 'named');

  it('lets the IG example (network-wide) disclose to any organization', () => {
    const answer = ask([consentDecisionFrom(IG_EXAMPLE)], 'any-cbo');
    expect(answer).toMatchObject({
      allowed: true,
      consentId: 'SDOHCC-ConsentInformationDisclosureExample',
      code: 'permitted',
    });
  });

  it('a named recipient is covered, another organization is not', () => {
    expect(ask([named], 'cbo-food')).toMatchObject({ allowed: true, consentId: 'named' });
    expect(ask([named], 'cbo-housing')).toMatchObject({
      allowed: false,
      code: 'recipient-not-covered',
    });
  });

  it('answers no-consent for a patient without consents', () => {
    expect(
      isDisclosureAllowed([named], {
        patientId: 'someone-else',
        organizationId: 'cbo-food',
        at: NOW,
      }),
    ).toMatchObject({ allowed: false, code: 'no-consent' });
  });

  it('deny wins over permit, whichever is newer and however specific', () => {
    const denyNamed = decide(
      { provision: { type: 'deny', actor: [recipient('cbo-food')] }, dateTime: '2020-01-01' },
      'deny-food',
    );
    expect(ask([network, named, denyNamed], 'cbo-food')).toMatchObject({
      allowed: false,
      consentId: 'deny-food',
      code: 'denied',
    });
    // the deny names cbo-food only: the network-wide permit still covers others
    expect(ask([network, denyNamed], 'cbo-housing')).toMatchObject({
      allowed: true,
      consentId: 'network',
    });
    const denyAll = decide({ provision: { type: 'deny' } }, 'deny-all');
    expect(ask([named, denyAll], 'cbo-food')).toMatchObject({
      allowed: false,
      consentId: 'deny-all',
    });
  });

  it('a deny scoped by security label applies only to data with that label', () => {
    const denyPart2 = decide({ provision: { type: 'deny', securityLabel: [PART2] } }, 'deny-p2');
    expect(ask([network, denyPart2], 'cbo-food')).toMatchObject({ allowed: true });
    expect(ask([network, denyPart2], 'cbo-food', { labels: [PART2_LABEL] })).toMatchObject({
      allowed: false,
      consentId: 'deny-p2',
    });
  });

  it('42 CFR Part 2 data needs a consent naming the recipient and covering Part 2', () => {
    const networkPart2 = decide(
      { provision: { type: 'permit', securityLabel: [PART2] } },
      'network-p2',
    );
    expect(ask([networkPart2], 'cbo-food', { labels: [PART2_LABEL, 'R'] })).toMatchObject({
      allowed: false,
      code: 'part2-needs-named-recipient',
    });
    // named, but silent about Part 2
    expect(ask([named], 'cbo-food', { labels: [PART2_LABEL] })).toMatchObject({
      allowed: false,
      code: 'labels-not-covered',
    });
    const namedPart2ViaMeta = decide(
      { meta: { security: [PART2, RESTRICTED] }, provision: { actor: [recipient('cbo-food')] } },
      'named-p2',
    );
    expect(
      ask([network, namedPart2ViaMeta], 'cbo-food', { labels: [PART2_LABEL, 'R'] }),
    ).toMatchObject({ allowed: true, consentId: 'named-p2' });
    // restricted data needs a consent that covers R; a normal-confidentiality label needs none
    expect(ask([network], 'cbo-food', { labels: ['R'] })).toMatchObject({
      allowed: false,
      code: 'labels-not-covered',
    });
    expect(ask([network], 'cbo-food', { labels: ['N'] })).toMatchObject({ allowed: true });
  });

  it('prefers a consent naming the recipient over a network-wide one', () => {
    expect(ask([network, named], 'cbo-food')).toMatchObject({ consentId: 'named' });
  });

  it('only an active consent within its period allows', () => {
    for (const status of [
      'inactive',
      'rejected',
      'entered-in-error',
      'draft',
      'proposed',
    ] as const) {
      expect(ask([decide({ status })], 'cbo-food')).toMatchObject({
        allowed: false,
        code: 'not-in-force',
        reason: expect.stringContaining(status),
      });
    }
    const period = (start?: string, end?: string) =>
      decide({ provision: { type: 'permit', period: { start, end } } });
    // an end at second precision covers that whole second
    expect(ask([period('2025-06-15T11:00:00Z', '2025-06-15T12:00:00Z')])).toMatchObject({
      allowed: true,
    });
    expect(ask([period('2025-06-15T11:00:00Z', '2025-06-15T11:59:59Z')])).toMatchObject({
      allowed: false,
      code: 'not-in-force',
      reason: expect.stringContaining('expired at 2025-06-15T12:00:00.000Z'),
    });
    expect(ask([period('2025-06-16')])).toMatchObject({
      allowed: false,
      reason: expect.stringContaining('starts at 2025-06-16'),
    });
    // an end date covers that whole day
    expect(ask([period(undefined, '2025-06-15')])).toMatchObject({ allowed: true });
    expect(ask([period('2025-06-15T12:00:00Z', undefined)])).toMatchObject({ allowed: true });
    expect(isInForce(period(undefined, '2025-06-15'), new Date('2025-06-16T00:00:00Z'))).toBe(
      false,
    );
  });

  it('an inactive or expired deny denies nothing', () => {
    const oldDeny = decide(
      { provision: { type: 'deny', period: { end: '2024-12-31' } } },
      'old-deny',
    );
    const inactiveDeny = decide({ status: 'inactive', provision: { type: 'deny' } }, 'off-deny');
    expect(ask([network, oldDeny, inactiveDeny])).toMatchObject({ allowed: true });
  });

  it('honours purposes: a purpose-limited permit covers only those purposes', () => {
    const treatOnly = decide({
      provision: { type: 'permit', purpose: [{ code: 'TREAT' }] },
    });
    expect(ask([treatOnly], 'cbo-food', { purpose: 'TREAT' })).toMatchObject({ allowed: true });
    expect(ask([treatOnly], 'cbo-food', { purpose: 'HMARKT' })).toMatchObject({
      allowed: false,
      code: 'purpose-not-covered',
    });
    expect(ask([treatOnly], 'cbo-food')).toMatchObject({ allowed: false });
  });

  it('fails closed on a permit it could not fully interpret', () => {
    const nested = decide({ provision: { type: 'permit', provision: [{ type: 'deny' }] } });
    expect(ask([nested])).toMatchObject({ allowed: false, code: 'not-interpretable' });
  });
});

describe('isNewerVersion', () => {
  const v = (versionId: string, lastUpdated = '2025-01-01T00:00:00Z') => ({
    versionId,
    lastUpdated,
  });
  it('compares numeric version ids as numbers, others by lastUpdated; equal is not newer', () => {
    expect(isNewerVersion(v('10'), v('9'))).toBe(true);
    expect(isNewerVersion(v('9'), v('10'))).toBe(false);
    expect(isNewerVersion(v('3'), v('3'))).toBe(false);
    expect(isNewerVersion(v('b', '2025-01-02T00:00:00Z'), v('a'))).toBe(true);
    expect(isNewerVersion(v('b'), v('a'))).toBe(false);
  });
});
