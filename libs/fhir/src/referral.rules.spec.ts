import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { FhirError } from './operation-outcome';
import { assertReferralRules, isReferralTask, validateReferralRules } from './referral.rules';
import {
  allFixtureNames,
  CONSENT,
  fixture,
  PATIENT,
  PROCEDURE,
  SERVICE_REQUEST,
  SUB_SERVICE_REQUEST,
  SUBTASK_ACCEPTED,
  TASK_ACCEPTED,
  TASK_COMPLETED,
  TASK_POSTED,
} from '../test-fixtures/load';

type Json = Record<string, unknown>;

const rules = (resource: Json, options = {}): OperationOutcomeIssue[] =>
  validateReferralRules(resource as unknown as Resource, options);

function expectIssue(issues: OperationOutcomeIssue[], expression: string, code: string): void {
  expect(issues).toContainEqual(
    expect.objectContaining({ severity: 'error', code, expression: [expression] }),
  );
}

describe('validateReferralRules on the IG examples', () => {
  // The IG's sub-referral ServiceRequests say original-order: fine for anyone but the platform.
  it.each(allFixtureNames())('%s follows the rules', (name) => {
    expect(rules(fixture(name))).toEqual([]);
  });

  it('recognises referral Tasks by code', () => {
    expect(isReferralTask(fixture(TASK_ACCEPTED))).toBe(true);
    expect(isReferralTask(fixture('Task-SDOHCC-TaskPatientMakeAppointmentCompletedExample'))).toBe(
      false,
    );
  });
});

describe('referral Task rules', () => {
  it.each<[string, (t: Json) => void, string, string]>([
    ['no code', (t) => delete t.code, 'Task.code', 'required'],
    ['intent plan', (t) => (t.intent = 'plan'), 'Task.intent', 'value'],
    [
      'intent filler-order from a client',
      (t) => (t.intent = 'filler-order'),
      'Task.intent',
      'value',
    ],
    ['no focus', (t) => delete t.focus, 'Task.focus', 'required'],
    [
      'a focus that is not a ServiceRequest',
      (t) => (t.focus = { reference: 'CarePlan/1' }),
      'Task.focus',
      'business-rule',
    ],
    [
      'a focus without reference',
      (t) => (t.focus = { display: 'the referral' }),
      'Task.focus',
      'business-rule',
    ],
    ['a contained focus', (t) => (t.focus = { reference: '#sr' }), 'Task.focus', 'business-rule'],
    [
      'a contained focus even when it is there',
      (t) => {
        t.contained = [{ ...fixture(SERVICE_REQUEST), id: 'sr' }];
        t.focus = { reference: '#sr' };
      },
      'Task.focus',
      'business-rule',
    ],
    [
      'a for naming no contained resource',
      (t) => (t.for = { reference: '#patient' }),
      'Task.for',
      'business-rule',
    ],
    ['no for', (t) => delete t.for, 'Task.for', 'required'],
    [
      'a for that is a Practitioner',
      (t) => (t.for = { reference: 'Practitioner/1' }),
      'Task.for',
      'business-rule',
    ],
    ['no authoredOn', (t) => delete t.authoredOn, 'Task.authoredOn', 'required'],
    ['no requester', (t) => delete t.requester, 'Task.requester', 'required'],
    [
      'a Patient requester',
      (t) => (t.requester = { reference: 'Patient/1' }),
      'Task.requester',
      'business-rule',
    ],
    [
      'a statusReason without text',
      (t) => (t.statusReason = { coding: [{ code: 'x' }] }),
      'Task.statusReason.text',
      'required',
    ],
    [
      'a resulting-activity that is not a Procedure',
      (t) =>
        (t.output = [
          {
            type: {
              coding: [
                {
                  system:
                    'http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes',
                  code: 'resulting-activity',
                },
              ],
            },
            valueReference: { reference: 'Observation/o1' },
          },
        ]),
      'Task.output[0].value',
      'business-rule',
    ],
    [
      'a resulting-activity with a string value',
      (t) =>
        (t.output = [
          { type: { text: 'other' }, valueString: 'fine' },
          {
            type: {
              coding: [
                {
                  system:
                    'http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes',
                  code: 'resulting-activity',
                },
              ],
            },
            valueString: 'done',
          },
        ]),
      'Task.output[1].value',
      'business-rule',
    ],
  ])('rejects %s', (_what, mutate, expression, code) => {
    const task = fixture(TASK_COMPLETED);
    mutate(task);
    expectIssue(rules(task), expression, code);
  });

  it('accepts absolute and urn references, and filler-order from the platform', () => {
    const task = fixture(TASK_POSTED);
    task.focus = { reference: 'https://ehr.example.org/fhir/ServiceRequest/sr1' };
    task.for = { reference: 'urn:uuid:9b1f1a36-2a3d-4c3b-9a57-3a1c3f3f0a11' };
    task.requester = {
      reference: 'urn:uuid:0c4d2a36-2a3d-4c3b-9a57-3a1c3f3f0a22',
      type: 'Organization',
    };
    expect(rules(task)).toEqual([]);
    task.requester = {
      reference: 'urn:uuid:0c4d2a36-2a3d-4c3b-9a57-3a1c3f3f0a22',
      type: 'Practitioner',
    };
    expectIssue(rules(task), 'Task.requester', 'business-rule');
    const sub = fixture(SUBTASK_ACCEPTED);
    sub.intent = 'filler-order';
    expect(rules(sub, { authoredByPlatform: true })).toEqual([]);
  });

  it('leaves non-referral Tasks to the base rules but still checks code and statusReason', () => {
    const patientTask = fixture('Task-SDOHCC-TaskPatientMakeAppointmentCompletedExample');
    delete patientTask.requester;
    expect(rules(patientTask)).toEqual([]);
    patientTask.statusReason = {};
    expectIssue(rules(patientTask), 'Task.statusReason.text', 'required');
  });

  it('reports every broken rule at once and throws a 422 from assertReferralRules', () => {
    const task = fixture(TASK_ACCEPTED);
    delete task.focus;
    delete task.for;
    delete task.authoredOn;
    const issues = rules(task);
    expect(issues.map((i) => i.expression?.[0])).toEqual([
      'Task.focus',
      'Task.for',
      'Task.authoredOn',
    ]);
    let caught: unknown;
    try {
      assertReferralRules(task as unknown as Resource);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(FhirError);
    expect((caught as FhirError).status).toBe(422);
    expect((caught as FhirError).issues).toHaveLength(3);
    expect(() => assertReferralRules(fixture(TASK_ACCEPTED) as unknown as Resource)).not.toThrow();
  });
});

describe('contained references', () => {
  it('accepts a Task for a Patient contained in it', () => {
    const task = fixture(TASK_POSTED);
    task.contained = [{ ...fixture(PATIENT), id: 'patient' }];
    task.for = { reference: '#patient' };
    expect(rules(task)).toEqual([]);
  });
});

describe('ServiceRequest rules', () => {
  it.each<[string, (s: Json) => void, string, string]>([
    [
      'an unknown SDOH domain',
      (s) =>
        (s.category = [
          {
            coding: [
              {
                system:
                  'http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes',
                code: 'weather',
              },
            ],
          },
        ]),
      'ServiceRequest.category[0]',
      'value',
    ],
    ['no code', (s) => delete s.code, 'ServiceRequest.code', 'required'],
    ['no subject', (s) => delete s.subject, 'ServiceRequest.subject', 'required'],
    [
      'a Practitioner subject',
      (s) => (s.subject = { reference: 'Practitioner/1' }),
      'ServiceRequest.subject',
      'business-rule',
    ],
    [
      'a filler-order without basedOn',
      (s) => (s.intent = 'filler-order'),
      'ServiceRequest.basedOn',
      'business-rule',
    ],
  ])('rejects %s', (_what, mutate, expression, code) => {
    const sr = fixture(SERVICE_REQUEST);
    mutate(sr);
    expectIssue(rules(sr), expression, code);
  });

  it('accepts no category, or categories of other systems only (the SDOH slice is 0..*)', () => {
    const sr = fixture(SERVICE_REQUEST);
    delete sr.category;
    expect(rules(sr)).toEqual([]);
    sr.category = [{ coding: [{ system: 'http://snomed.info/sct', code: '410606002' }] }];
    expect(rules(sr)).toEqual([]);
  });

  it('accepts a subject contained in the ServiceRequest, and refuses one that is not there', () => {
    const sr = fixture(SERVICE_REQUEST);
    sr.contained = [{ ...fixture(PATIENT), id: 'patient' }];
    sr.subject = { reference: '#patient' };
    expect(rules(sr)).toEqual([]);
    sr.subject = { reference: '#someone-else' };
    expectIssue(rules(sr), 'ServiceRequest.subject', 'business-rule');
    sr.contained = [{ resourceType: 'Practitioner', id: 'someone-else' }];
    expectIssue(rules(sr), 'ServiceRequest.subject', 'business-rule');
  });

  it("requires filler-order on the platform's own sub-referral (the IG examples say original-order)", () => {
    const sub = fixture(SUB_SERVICE_REQUEST);
    expect(rules(sub)).toEqual([]);
    expectIssue(rules(sub, { authoredByPlatform: true }), 'ServiceRequest.intent', 'value');
    sub.intent = 'filler-order';
    expect(rules(sub, { authoredByPlatform: true })).toEqual([]);
  });
});

describe('Consent rules', () => {
  it.each<[string, (c: Json) => void, string, string]>([
    ['no IDSCL category', (c) => (c.category = [{ text: 'privacy' }]), 'Consent.category', 'value'],
    ['no patient', (c) => delete c.patient, 'Consent.patient', 'required'],
    [
      'a Group patient',
      (c) => (c.patient = { reference: 'Group/1' }),
      'Consent.patient',
      'business-rule',
    ],
    ['no dateTime', (c) => delete c.dateTime, 'Consent.dateTime', 'required'],
    ['no organization', (c) => delete c.organization, 'Consent.organization', 'business-rule'],
    [
      'two organizations',
      (c) => (c.organization = [{ reference: 'Organization/a' }, { reference: 'Organization/b' }]),
      'Consent.organization',
      'business-rule',
    ],
    [
      'a non-Organization organization',
      (c) => (c.organization = [{ reference: 'Patient/a' }]),
      'Consent.organization[0]',
      'business-rule',
    ],
    ['no source', (c) => delete c.sourceAttachment, 'Consent.source', 'required'],
    ['no scope', (c) => delete c.scope, 'Consent.scope', 'required'],
    ['no status', (c) => delete c.status, 'Consent.status', 'required'],
  ])('rejects %s', (_what, mutate, expression, code) => {
    const consent = fixture(CONSENT);
    mutate(consent);
    expectIssue(rules(consent), expression, code);
  });

  it('accepts a source reference instead of an attachment', () => {
    const consent = fixture(CONSENT);
    delete consent.sourceAttachment;
    consent.sourceReference = { reference: 'DocumentReference/d1' };
    expect(rules(consent)).toEqual([]);
  });
});

describe('Procedure rules', () => {
  it('requires code, and performed[x] when completed or in progress', () => {
    const procedure = fixture(PROCEDURE);
    delete procedure.code;
    expectIssue(rules(procedure), 'Procedure.code', 'required');
    const p2 = fixture(PROCEDURE);
    delete p2.performedDateTime;
    delete p2.performedPeriod;
    expectIssue(rules(p2), 'Procedure.performed', 'required');
    p2.status = 'preparation';
    expect(rules(p2)).toEqual([]);
  });
});
