import {
  collectReferences,
  normalizeReference,
  parseReference,
  referenceType,
  rewriteReferences,
} from './references';
import { fixture, TASK_COMPLETED } from '../test-fixtures/load';

describe('parseReference', () => {
  it('parses relative, versioned, absolute, urn and contained references', () => {
    expect(parseReference('Patient/pat-53234')).toEqual({
      kind: 'relative',
      reference: 'Patient/pat-53234',
      resourceType: 'Patient',
      id: 'pat-53234',
    });
    expect(parseReference('Task/t1/_history/3')).toMatchObject({
      kind: 'relative',
      resourceType: 'Task',
      id: 't1',
      version: '3',
    });
    expect(parseReference('https://ehr.example.org/fhir/R4/Patient/123/_history/2')).toEqual({
      kind: 'absolute',
      reference: 'https://ehr.example.org/fhir/R4/Patient/123/_history/2',
      baseUrl: 'https://ehr.example.org/fhir/R4',
      resourceType: 'Patient',
      id: '123',
      version: '2',
    });
    expect(parseReference('urn:uuid:9b1f1a36-2a3d-4c3b-9a57-3a1c3f3f0a11')).toMatchObject({
      kind: 'urn',
    });
    expect(parseReference('urn:oid:1.2.840.10008')).toMatchObject({ kind: 'urn' });
    expect(parseReference('#consent1')).toEqual({
      kind: 'contained',
      reference: '#consent1',
      id: 'consent1',
    });
  });

  it('rejects what is not a reference', () => {
    for (const bad of [
      '',
      'pat-53234',
      'patient/1',
      'Patient/',
      'Patient/a b',
      'Patient?identifier=x|1',
      'urn:uuid:not-a-uuid',
      'ftp://x/Patient/1',
      `Patient/${'a'.repeat(65)}`,
      42,
      undefined,
    ]) {
      expect(parseReference(bad)).toBeUndefined();
    }
  });

  it('tells the target type from the reference, or from Reference.type for a urn', () => {
    expect(referenceType({ reference: 'http://x/fhir/Organization/o1' })).toBe('Organization');
    expect(
      referenceType({
        reference: 'urn:uuid:9b1f1a36-2a3d-4c3b-9a57-3a1c3f3f0a11',
        type: 'Patient',
      }),
    ).toBe('Patient');
    expect(referenceType({ display: 'no reference' })).toBeUndefined();
  });
});

describe('normalizeReference', () => {
  it('makes references relative when they are local and drops versions', () => {
    expect(normalizeReference('Patient/1/_history/4')).toBe('Patient/1');
    expect(
      normalizeReference('http://localhost:8080/fhir/Patient/1', ['http://localhost:8080/fhir/']),
    ).toBe('Patient/1');
    expect(normalizeReference('https://ehr.example.org/fhir/Patient/1/_history/2')).toBe(
      'https://ehr.example.org/fhir/Patient/1',
    );
    expect(normalizeReference('urn:uuid:9b1f1a36-2a3d-4c3b-9a57-3a1c3f3f0a11')).toBeUndefined();
    expect(normalizeReference('#c')).toBeUndefined();
  });
});

describe('collectReferences', () => {
  it('finds every Reference with its path, contained resources included', () => {
    const task = fixture(TASK_COMPLETED) as Record<string, unknown>;
    task.contained = [
      { resourceType: 'Patient', id: 'p', managingOrganization: { reference: 'Organization/o' } },
    ];
    const found = collectReferences(task).map((f) => `${f.path}=${f.reference.reference}`);
    // document order (contained was added last to the object)
    expect(found).toEqual([
      'Task.focus=ServiceRequest/SDOHCC-ServiceRequestActiveFoodPantryApplicationAssistExample',
      'Task.for=Patient/pat-53234',
      'Task.requester=PractitionerRole/SDOHCC-PractitionerRoleDrJanWaterExample',
      'Task.owner=Organization/SDOHCC-OrganizationCoordinationPlatformExample',
      'Task.output[0].valueReference=Procedure/SDOHCC-ProcedureFoodPantryApplicationAssistanceExample',
      'Task.contained[0].managingOrganization=Organization/o',
    ]);
  });

  it('walks deep structures without recursion', () => {
    let deep: Record<string, unknown> = { reference: 'Patient/1' };
    for (let i = 0; i < 20_000; i++) {
      deep = { nested: deep };
    }
    expect(collectReferences(deep)).toHaveLength(1);
  });
});

describe('rewriteReferences', () => {
  const patientUrn = 'urn:uuid:9b1f1a36-2a3d-4c3b-9a57-3a1c3f3f0a11';
  const srUrn = 'urn:uuid:0c4d2a36-2a3d-4c3b-9a57-3a1c3f3f0a22';

  it('rewrites urn:uuid references, uri values and narrative links, and copies', () => {
    const task = {
      resourceType: 'Task',
      text: {
        status: 'generated',
        div: `<div xmlns="http://www.w3.org/1999/xhtml"><a href="${patientUrn}">patient</a> <a href="http://x">x</a></div>`,
      },
      for: { reference: patientUrn, display: patientUrn },
      focus: { reference: srUrn },
      requester: { reference: 'Organization/o1' },
      instantiatesUri: srUrn,
      note: [{ text: `about ${patientUrn}` }],
    };
    const map = new Map([
      [patientUrn, 'Patient/p1'],
      [srUrn, 'ServiceRequest/s1'],
    ]);
    const out = rewriteReferences(task, map);
    expect(out.for.reference).toBe('Patient/p1');
    expect(out.focus.reference).toBe('ServiceRequest/s1');
    expect(out.requester.reference).toBe('Organization/o1');
    expect(out.instantiatesUri).toBe('ServiceRequest/s1');
    expect(out.text.div).toContain('href="Patient/p1"');
    expect(out.text.div).toContain('href="http://x"');
    // free text is not a link
    expect(out.note[0].text).toBe(`about ${patientUrn}`);
    // the input is untouched
    expect(task.for.reference).toBe(patientUrn);
    // a display equal to the urn is a uri-like exact value: rewritten too
    expect(out.for.display).toBe('Patient/p1');
  });

  it('accepts a plain object map and rewrites absolute fullUrls in references', () => {
    const out = rewriteReferences(
      { subject: { reference: 'http://ehr/fhir/Patient/1' } },
      { 'http://ehr/fhir/Patient/1': 'Patient/9' },
    );
    expect(out.subject.reference).toBe('Patient/9');
    // prototype keys are not mappings
    const out2 = rewriteReferences({ subject: { reference: 'constructor' } }, {});
    expect(out2.subject.reference).toBe('constructor');
  });
});
