import type { Resource } from '@carerelay/fhir-client';
import { fixture, SERVICE_REQUEST, TASK_POSTED } from '../../../../libs/fhir/test-fixtures/load';
import { cboServiceRequest, cboTask, keptSource, PERTAINS_TO_GOAL } from './cbo-copy.mapping';

const LOCAL = 'https://carerelay.example/fhir';
const TEMP = 'http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes';

/** The IG's food pantry referral with every Must Support element a source may carry. */
function igSource() {
  const serviceRequest = fixture<Resource>(SERVICE_REQUEST);
  serviceRequest.id = 'sr-1';
  serviceRequest.extension = [
    { url: PERTAINS_TO_GOAL, valueReference: { reference: 'Goal/food-security' } },
    { url: 'https://ehr.example/fhir/StructureDefinition/internal-flag', valueBoolean: true },
  ];
  serviceRequest.orderDetail = [
    { coding: [{ system: TEMP, code: 'contacting-subject-prohibited' }] },
  ];
  serviceRequest.priority = 'urgent';
  serviceRequest.occurrencePeriod = { start: '2026-12-01', end: '2026-12-31' };
  serviceRequest.reasonReference = [{ reference: '#condition' }];
  serviceRequest.supportingInfo = [{ reference: `${LOCAL}/Consent/c-1` }];
  serviceRequest.contained = [
    { resourceType: 'Condition', id: 'condition', subject: { reference: 'Patient/pat-53234' } },
    { resourceType: 'Observation', id: 'unreferenced', status: 'final' },
  ];
  serviceRequest.note = [{ text: 'Lives with an abusive partner' }];
  serviceRequest.encounter = { reference: 'https://ehr.example/fhir/Encounter/e-1' };
  const task = fixture<Resource>(TASK_POSTED);
  task.id = 'task-1';
  task.priority = 'asap';
  task.focus = { reference: `${LOCAL}/ServiceRequest/sr-1` };
  task.input = [
    {
      type: { coding: [{ system: TEMP, code: 'additional-content' }] },
      valueReference: { reference: 'Observation/lead-level' },
    },
  ];
  return { task, serviceRequest };
}

const copyInput = (source: ReturnType<typeof keptSource>) => ({
  key: 'task-1-1',
  source,
  organizationId: 'cbo-1',
  platformOrganizationId: 'platform',
  now: '2026-12-02T12:00:00Z',
  fillerOrderIdentifierSystem: 'https://carerelay.example/fhir/identifier/filler-order',
  cboTaskIdentifierSystem: 'https://carerelay.example/fhir/identifier/cbo-task',
  fillerOrderReference: 'urn:uuid:cbo-service-request',
});

describe('the CBO copies keep the Must Support elements of the source referral', () => {
  it("the filler-order ServiceRequest keeps the SDOHCC ServiceRequest's Must Support elements", () => {
    const source = igSource();
    const sr = cboServiceRequest(copyInput(keptSource(source, [LOCAL])));
    expect(sr).toMatchObject({
      intent: 'filler-order',
      status: 'active',
      basedOn: [{ reference: 'ServiceRequest/sr-1' }],
      extension: [{ url: PERTAINS_TO_GOAL, valueReference: { reference: 'Goal/food-security' } }],
      category: source.serviceRequest.category,
      code: source.serviceRequest.code,
      orderDetail: [{ coding: [{ system: TEMP, code: 'contacting-subject-prohibited' }] }],
      priority: 'urgent',
      occurrencePeriod: { start: '2026-12-01', end: '2026-12-31' },
      subject: { reference: 'Patient/pat-53234' },
      reasonReference: [{ reference: '#condition' }],
      // An absolute URL of this server becomes relative.
      supportingInfo: [{ reference: 'Consent/c-1' }],
      requester: { reference: 'Organization/platform' },
      performer: [{ reference: 'Organization/cbo-1' }],
    });
    // Only the extension the IG names, and only the contained resources the copy references.
    expect(sr.extension).toHaveLength(1);
    expect(sr.contained).toEqual([expect.objectContaining({ id: 'condition' })]);
    // Not kept: free text and the EHR's encounter.
    expect(sr.note).toBeUndefined();
    expect(sr.encounter).toBeUndefined();
  });

  it("the CBO Task keeps the SDOHCC Task's priority, for and additional-content input", () => {
    const source = igSource();
    const task = cboTask(copyInput(keptSource(source, [LOCAL])));
    expect(task).toMatchObject({
      status: 'requested',
      intent: 'order',
      partOf: [{ reference: 'Task/task-1' }],
      priority: 'asap',
      for: source.task.for,
      focus: { reference: 'urn:uuid:cbo-service-request' },
      owner: { reference: 'Organization/cbo-1' },
      input: source.task.input,
    });
  });

  it('keeps a Patient contained in the Task with the reference to it', () => {
    const source = igSource();
    source.task.contained = [{ resourceType: 'Patient', id: 'patient' }];
    source.task.for = { reference: '#patient' };
    const task = cboTask(copyInput(keptSource(source, [LOCAL])));
    expect(task.for).toEqual({ reference: '#patient' });
    expect(task.contained).toEqual([{ resourceType: 'Patient', id: 'patient' }]);
  });

  it('leaves out what the source does not say (no empty elements)', () => {
    const { task } = igSource();
    const sr = cboServiceRequest(copyInput(keptSource({ task }, [LOCAL])));
    const json = JSON.parse(JSON.stringify(sr));
    expect(Object.keys(json).sort()).toEqual(
      [
        'authoredOn',
        'identifier',
        'intent',
        'performer',
        'requester',
        'resourceType',
        'status',
        'subject',
      ].sort(),
    );
  });
});
