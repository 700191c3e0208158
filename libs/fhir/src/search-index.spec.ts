import type { Resource } from '@medplum/fhirtypes';
import { extractSearchIndex, type SearchIndexRow } from './search-index';
import {
  allFixtureNames,
  fixture,
  PATIENT,
  SERVICE_REQUEST,
  TASK_ACCEPTED,
  TASK_COMPLETED,
} from '../test-fixtures/load';

const rowsOf = (rows: SearchIndexRow[], param: string): SearchIndexRow[] =>
  rows.filter((r) => r.param === param);

describe('extractSearchIndex', () => {
  it.each(allFixtureNames())('indexes the IG example %s with an _id row', (name) => {
    const resource = fixture<Resource>(name);
    const rows = extractSearchIndex(resource);
    if (resource.id) {
      expect(rowsOf(rows, '_id')).toEqual([{ param: '_id', type: 'token', code: resource.id }]);
    }
    // no duplicates
    expect(new Set(rows.map((r) => JSON.stringify(r))).size).toBe(rows.length);
  });

  it('indexes a referral Task by the parameters the IG searches on', () => {
    const rows = extractSearchIndex(fixture<Resource>(TASK_COMPLETED));
    expect(rowsOf(rows, 'status')).toEqual([{ param: 'status', type: 'token', code: 'completed' }]);
    expect(rowsOf(rows, 'code')).toEqual([
      {
        param: 'code',
        type: 'token',
        system: 'http://hl7.org/fhir/CodeSystem/task-code',
        code: 'fulfill',
      },
    ]);
    expect(rowsOf(rows, 'focus')).toEqual([
      {
        param: 'focus',
        type: 'reference',
        value_reference:
          'ServiceRequest/SDOHCC-ServiceRequestActiveFoodPantryApplicationAssistExample',
      },
    ]);
    expect(rowsOf(rows, 'patient')[0].value_reference).toBe('Patient/pat-53234');
    expect(rowsOf(rows, 'requester')[0].value_reference).toBe(
      'PractitionerRole/SDOHCC-PractitionerRoleDrJanWaterExample',
    );
    expect(rowsOf(rows, 'owner')[0].value_reference).toBe(
      'Organization/SDOHCC-OrganizationCoordinationPlatformExample',
    );
    expect(rowsOf(rows, 'output')).toEqual([
      {
        param: 'output',
        type: 'reference',
        value_reference: 'Procedure/SDOHCC-ProcedureFoodPantryApplicationAssistanceExample',
      },
    ]);
    expect(rowsOf(rows, 'authored-on')).toEqual([
      {
        param: 'authored-on',
        type: 'date',
        value_date_start: '2020-09-11T21:56:54.671Z',
        value_date_end: '2020-09-11T21:56:54.672Z',
      },
    ]);
  });

  it('keeps `patient` to Patient references, absolute ones included', () => {
    const task = fixture<Record<string, unknown>>(TASK_ACCEPTED);
    task.for = { reference: 'https://ehr.example.org/fhir/Patient/77' };
    let rows = extractSearchIndex(task as unknown as Resource);
    expect(rowsOf(rows, 'patient')).toEqual([
      {
        param: 'patient',
        type: 'reference',
        value_reference: 'https://ehr.example.org/fhir/Patient/77',
      },
    ]);
    rows = extractSearchIndex(task as unknown as Resource, {
      localBaseUrls: ['https://ehr.example.org/fhir'],
    });
    expect(rowsOf(rows, 'patient')[0].value_reference).toBe('Patient/77');
    task.for = { reference: 'Group/g1' };
    rows = extractSearchIndex(task as unknown as Resource);
    expect(rowsOf(rows, 'patient')).toEqual([]);
    expect(rowsOf(rows, 'subject')[0].value_reference).toBe('Group/g1');
  });

  it('indexes business status, identifiers, part-of, meta and periods', () => {
    const task = fixture<Record<string, unknown>>(TASK_ACCEPTED);
    Object.assign(task, {
      meta: {
        lastUpdated: '2026-01-02T03:04:05.678Z',
        security: [
          { system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' },
        ],
        tag: [{ system: 'urn:tags', code: 'demo' }],
      },
      businessStatus: {
        coding: [{ system: 'urn:bs', code: 'contact-attempted' }],
        text: 'Contacted',
      },
      identifier: [{ system: 'urn:placer', value: 'P-1' }],
      partOf: [{ reference: 'Task/parent' }],
      executionPeriod: { start: '2026-01' },
    });
    const rows = extractSearchIndex(task as unknown as Resource);
    expect(rowsOf(rows, '_lastUpdated')[0]).toMatchObject({
      value_date_start: '2026-01-02T03:04:05.678Z',
      value_date_end: '2026-01-02T03:04:05.679Z',
    });
    expect(rowsOf(rows, '_security')[0]).toMatchObject({ code: 'R' });
    expect(rowsOf(rows, '_tag')[0]).toMatchObject({ system: 'urn:tags', code: 'demo' });
    expect(rowsOf(rows, 'business-status')).toEqual([
      { param: 'business-status', type: 'token', system: 'urn:bs', code: 'contact-attempted' },
    ]);
    expect(rowsOf(rows, 'identifier')).toEqual([
      { param: 'identifier', type: 'token', system: 'urn:placer', code: 'P-1' },
    ]);
    expect(rowsOf(rows, 'part-of')[0].value_reference).toBe('Task/parent');
    // open period: start of January 2026, no end
    expect(rowsOf(rows, 'period')).toEqual([
      { param: 'period', type: 'date', value_date_start: '2026-01-01T00:00:00.000Z' },
    ]);
  });

  it('indexes names and addresses part by part, normalised', () => {
    const patient = fixture<Record<string, unknown>>(PATIENT);
    patient.name = [{ family: 'Ñúñez', given: ['José', 'María'] }];
    const rows = extractSearchIndex(patient as unknown as Resource);
    expect(rowsOf(rows, 'family')).toEqual([
      { param: 'family', type: 'string', value_string: 'Ñúñez', value_string_normalized: 'nunez' },
    ]);
    expect(rowsOf(rows, 'name').map((r) => r.value_string_normalized)).toEqual([
      'nunez',
      'jose',
      'maria',
    ]);
    expect(rowsOf(rows, 'address-city')[0].value_string).toBe('Mounds');
    expect(rowsOf(rows, 'birthdate')[0]).toMatchObject({
      value_date_start: '1987-02-20T00:00:00.000Z',
      value_date_end: '1987-02-21T00:00:00.000Z',
    });
    expect(rowsOf(rows, 'gender')).toEqual([{ param: 'gender', type: 'token', code: 'male' }]);
  });

  it('indexes ServiceRequest categories and the IG supporting-info parameter', () => {
    const sr = fixture<Record<string, unknown>>(SERVICE_REQUEST);
    sr.supportingInfo = [{ reference: 'Consent/c1' }];
    sr.occurrenceDateTime = '2026-03-01T10:00:00+02:00';
    const rows = extractSearchIndex(sr as unknown as Resource);
    expect(rowsOf(rows, 'category').map((r) => r.code)).toEqual(['410606002', 'food-insecurity']);
    expect(rowsOf(rows, 'supporting-info')[0].value_reference).toBe('Consent/c1');
    expect(rowsOf(rows, 'occurrence')[0]).toMatchObject({
      value_date_start: '2026-03-01T08:00:00.000Z',
      value_date_end: '2026-03-01T08:00:01.000Z',
    });
  });

  it('indexes quantities and skips urn and contained references', () => {
    const obs = {
      resourceType: 'Observation',
      id: 'o1',
      status: 'final',
      code: { text: 'weight' },
      subject: { reference: 'urn:uuid:9b1f1a36-2a3d-4c3b-9a57-3a1c3f3f0a11' },
      performer: [{ reference: '#p' }],
      valueQuantity: { value: 72.5, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' },
    } as Resource;
    const rows = extractSearchIndex(obs);
    expect(rowsOf(rows, 'value-quantity')).toEqual([
      {
        param: 'value-quantity',
        type: 'quantity',
        value_number: 72.5,
        system: 'http://unitsofmeasure.org',
        code: 'kg',
      },
    ]);
    expect(rowsOf(rows, 'subject')).toEqual([]);
    expect(rowsOf(rows, 'performer')).toEqual([]);
  });
});
