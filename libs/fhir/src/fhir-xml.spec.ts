import type { Observation, Resource } from '@medplum/fhirtypes';
import { allFixtureNames, fixture } from '../test-fixtures/load';
import { fhirJsonToXml, fhirXmlToJson } from './fhir-xml';
import { FhirError } from './operation-outcome';

const F = 'xmlns="http://hl7.org/fhir"';

function refusal(xml: string): FhirError {
  try {
    fhirXmlToJson(xml);
  } catch (error) {
    if (error instanceof FhirError) return error;
    throw error;
  }
  throw new Error('the XML was taken');
}

describe('FHIR XML <-> JSON', () => {
  it.each(allFixtureNames())('round-trips the IG example %s unchanged', (name) => {
    const resource = fixture<Resource>(name);
    const xml = fhirJsonToXml(resource);
    expect(xml).toContain(`<${resource.resourceType} ${F}>`);
    expect(fhirXmlToJson(xml)).toEqual(resource);
  });

  it('keeps decimals as numbers, primitive extensions, narrative and contained resources', () => {
    const observation = {
      resourceType: 'Observation',
      text: {
        status: 'generated',
        div: '<div xmlns="http://www.w3.org/1999/xhtml"><p>a &amp; <b>b</b></p></div>',
      },
      contained: [{ resourceType: 'Patient', id: 'p', birthDate: '2000' }],
      status: 'final',
      _status: { extension: [{ url: 'http://example.org/x', valueString: 'y' }] },
      code: { text: 'weight' },
      valueQuantity: { value: 72.25, unit: 'kg' },
      component: [{ code: { text: 'c' }, valueInteger: 3 }],
    } as Observation;
    expect(fhirXmlToJson(fhirJsonToXml(observation))).toEqual(observation);
  });

  it('escapes what XML would misread, and reads it back the same', () => {
    const family = `O'Brien "Q" <b> & c\r\nline2\ttab é 😀 ]]> -->`;
    const patient: Resource = { resourceType: 'Patient', name: [{ family }] };
    const xml = fhirJsonToXml(patient);
    expect(xml).toContain('&quot;Q&quot; &lt;b&gt; &amp; c&#xD;&#xA;line2');
    expect(fhirXmlToJson(xml)).toEqual(patient);
  });

  it('ignores comments', () => {
    expect(
      fhirXmlToJson(
        `<?xml version="1.0"?><!-- a --><Patient ${F}><!-- b --><active value="true"/></Patient>`,
      ),
    ).toEqual({ resourceType: 'Patient', active: true });
  });

  it.each([
    ['not XML', '{"resourceType":"Patient"}'],
    ['an unclosed element', `<Patient ${F}><id value="1"></Patient>`],
    ['an unknown resource type', `<Foo ${F}><id value="1"/></Foo>`],
    ['an unknown element', `<Patient ${F}><id value="1"/><shoeSize value="9"/></Patient>`],
    ['an element without a value', `<Patient ${F}><active/></Patient>`],
    ['a bad boolean', `<Patient ${F}><active value="yes"/></Patient>`],
    ['two roots', `<Patient ${F}/><Patient ${F}/>`],
  ])('refuses %s with a 400', (_what, xml) => {
    const error = refusal(xml);
    expect(error.status).toBe(400);
    expect(error.issues[0].code).toBe('structure');
  });

  it('refuses a DTD: no external or internal entity is resolved', () => {
    const xxe =
      '<?xml version="1.0"?><!DOCTYPE p [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>' +
      `<Patient ${F}><name><family value="&xxe;"/></name></Patient>`;
    expect(refusal(xxe).status).toBe(400);
    // Without the DTD the parser knows no such entity either.
    const entity = `<Patient ${F}><name><family value="&xxe;"/></name></Patient>`;
    expect(refusal(entity).issues[0].diagnostics).toMatch(/entity/i);
  });

  it('decodes the predefined and character entities', () => {
    expect(
      fhirXmlToJson(`<Patient ${F}><name><family value="a&amp;b&#233;&lt;"/></name></Patient>`),
    ).toEqual({ resourceType: 'Patient', name: [{ family: 'a&bé<' }] });
  });
});
