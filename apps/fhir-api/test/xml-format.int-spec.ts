// FHIR XML in and out on the running API (PostgreSQL and Kafka): an IG example created from XML
// reads back the same as XML and as JSON; searches, history, /metadata and errors answer in XML
// when asked; a transaction Bundle is taken as XML; malformed XML, an XML document type
// declaration (XXE) and an oversized XML body are refused as OperationOutcomes, nothing written.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Bundle, Patient, Resource } from '@medplum/fhirtypes';
import { fhirJsonToXml, fhirXmlToJson } from '@carerelay/fhir';
import { startTestFhirApi, storeCounts, type TestFhirApi } from './fhir-api.harness';

const XML = 'application/fhir+xml';
const JSON_TYPE = 'application/fhir+json';
const F = 'xmlns="http://hl7.org/fhir"';

const patientExample = JSON.parse(
  readFileSync(path.join(__dirname, 'fixtures/Patient-pat-53234.json'), 'utf8'),
) as Patient;

/** The resource without what the server assigns (id, meta). */
function content(resource: Resource): Record<string, unknown> {
  const { id: _id, meta: _meta, ...rest } = resource as Resource & { meta?: unknown };
  return rest;
}

describe('FHIR XML', () => {
  jest.setTimeout(120_000);
  let api: TestFhirApi;

  beforeAll(async () => {
    api = await startTestFhirApi({
      FHIR_MAX_BODY_BYTES: '65536',
      FHIR_MAX_XML_BODY_BYTES: '32768',
    });
  });
  afterAll(async () => {
    await api?.close();
  });

  const call = async (
    method: string,
    where: string,
    body?: string,
    headers: Record<string, string> = {},
  ) => {
    const response = await fetch(`${api.baseUrl}${where}`, { method, headers, body });
    const text = await response.text();
    return { status: response.status, type: response.headers.get('content-type'), text };
  };
  const asXml = (text: string) => fhirXmlToJson(text);

  it('creates the IG Patient example from XML and reads it back as XML and as JSON', async () => {
    const sent = fhirJsonToXml(patientExample);
    const created = await call('POST', '/Patient', sent, { 'content-type': XML, accept: XML });
    expect(created.status).toBe(201);
    expect(created.type).toBe(`${XML}; charset=utf-8`);
    expect(created.text).toMatch(/^<\?xml [^>]*\?><Patient xmlns="http:\/\/hl7\.org\/fhir">/);
    const id = asXml(created.text).id!;

    const xmlRead = await call('GET', `/Patient/${id}`, undefined, { accept: XML });
    expect(xmlRead.status).toBe(200);
    expect(xmlRead.type).toBe(`${XML}; charset=utf-8`);
    const jsonRead = await call('GET', `/Patient/${id}`, undefined, { accept: JSON_TYPE });
    expect(jsonRead.type).toBe(`${JSON_TYPE}; charset=utf-8`);
    const fromXml = asXml(xmlRead.text);
    const fromJson = JSON.parse(jsonRead.text) as Resource;
    expect(fromXml).toEqual(fromJson);
    expect(content(fromJson)).toEqual(content(patientExample));

    // An update in XML goes through the same validation and versioning as JSON.
    const changed = fhirJsonToXml({ ...fromJson, active: false } as Resource);
    const updated = await call('PUT', `/Patient/${id}`, changed, {
      'content-type': `${XML}; charset=utf-8`,
      accept: JSON_TYPE,
    });
    expect(updated.status).toBe(200);
    expect(JSON.parse(updated.text)).toMatchObject({ active: false, meta: { versionId: '2' } });
  });

  it('answers search, history, /metadata and errors in XML when asked', async () => {
    const search = await call('GET', '/Patient?family=ABBAS&_format=xml');
    expect(search.type).toBe(`${XML}; charset=utf-8`);
    const bundle = asXml(search.text) as Bundle;
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
    expect(bundle.entry?.length).toBeGreaterThan(0);

    const history = await call('GET', '/Patient/_history', undefined, { accept: XML });
    expect(asXml(history.text)).toMatchObject({ resourceType: 'Bundle', type: 'history' });

    const metadata = await call('GET', '/metadata', undefined, { accept: XML });
    expect(metadata.type).toBe(`${XML}; charset=utf-8`);
    expect(asXml(metadata.text)).toMatchObject({
      resourceType: 'CapabilityStatement',
      format: expect.arrayContaining(['application/fhir+xml', 'xml']),
    });

    const missing = await call('GET', '/Patient/no-such-patient', undefined, { accept: XML });
    expect(missing.status).toBe(404);
    expect(missing.type).toBe(`${XML}; charset=utf-8`);
    expect(asXml(missing.text)).toMatchObject({ resourceType: 'OperationOutcome' });
  });

  it('takes a transaction Bundle in XML and answers it in XML', async () => {
    const transaction = `<Bundle ${F}><type value="transaction"/>
      <entry><fullUrl value="urn:uuid:7d1f2b6e-0000-4000-8000-000000000001"/>
        <resource><Patient><name><family value="Xmlson"/></name></Patient></resource>
        <request><method value="POST"/><url value="Patient"/></request></entry>
      <entry><resource><Goal><lifecycleStatus value="active"/>
          <description><text value="food security"/></description>
          <subject><reference value="urn:uuid:7d1f2b6e-0000-4000-8000-000000000001"/></subject>
        </Goal></resource>
        <request><method value="POST"/><url value="Goal"/></request></entry>
    </Bundle>`;
    const answer = await call('POST', '', transaction, { 'content-type': XML, accept: XML });
    expect(answer.status).toBe(200);
    const response = asXml(answer.text) as Bundle;
    expect(response.type).toBe('transaction-response');
    expect(response.entry!.map((e) => e.response!.status)).toEqual(['201 Created', '201 Created']);
    const patientLocation = response.entry![0].response!.location!.split('/_history')[0];
    const goal = await call(
      'GET',
      `/${response.entry![1].response!.location!.split('/_history')[0]}`,
      undefined,
      { accept: JSON_TYPE },
    );
    expect(JSON.parse(goal.text).subject.reference).toBe(patientLocation);
  });

  describe('refused XML: an OperationOutcome in the asked format, nothing stored', () => {
    const refusals: [string, string, number][] = [
      ['malformed XML', `<Patient ${F}><name><family value="x"></name></Patient>`, 400],
      ['not XML at all', '{"resourceType":"Patient"}', 400],
      ['an unknown element', `<Patient ${F}><shoeSize value="9"/></Patient>`, 400],
      ['a value the type does not allow', `<Patient ${F}><active value="yes"/></Patient>`, 400],
      [
        'an external entity (XXE)',
        '<?xml version="1.0"?><!DOCTYPE p [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>' +
          `<Patient ${F}><name><family value="&xxe;"/></name></Patient>`,
        400,
      ],
      [
        'nested internal entities (billion laughs)',
        '<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>' +
          `<Patient ${F}><name><family value="&b;"/></name></Patient>`,
        400,
      ],
      [
        'a body over FHIR_MAX_XML_BODY_BYTES (under FHIR_MAX_BODY_BYTES)',
        `<Patient ${F}><name><text value="${'x'.repeat(40_000)}"/></name></Patient>`,
        413,
      ],
      [
        'a body over FHIR_MAX_BODY_BYTES',
        `<Patient ${F}><name><text value="${'x'.repeat(70_000)}"/></name></Patient>`,
        413,
      ],
    ];

    it.each(refusals)('%s', async (_what, body, status) => {
      const before = await storeCounts(api);
      const xml = await call('POST', '/Patient', body, { 'content-type': XML, accept: XML });
      expect(xml.status).toBe(status);
      expect(xml.type).toBe(`${XML}; charset=utf-8`);
      const outcome = asXml(xml.text);
      expect(outcome.resourceType).toBe('OperationOutcome');
      expect(xml.text).not.toContain('<family value="');

      const json = await call('POST', '/Patient', body, {
        'content-type': XML,
        accept: JSON_TYPE,
      });
      expect(json.status).toBe(status);
      expect(JSON.parse(json.text).resourceType).toBe('OperationOutcome');
      expect(await storeCounts(api)).toEqual(before);
    });

    it('takes a JSON body of the size refused in XML', async () => {
      const json = await call(
        'POST',
        '/Patient',
        JSON.stringify({ resourceType: 'Patient', name: [{ text: 'x'.repeat(40_000) }] }),
        { 'content-type': JSON_TYPE, accept: JSON_TYPE },
      );
      expect(json.status).toBe(201);
    });

    it('never reads the file an external entity names', async () => {
      const hostname = readFileSync('/etc/hostname', 'utf8').trim();
      const answer = await call(
        'POST',
        '/Patient',
        '<?xml version="1.0"?><!DOCTYPE p [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>' +
          `<Patient ${F}><name><family value="&xxe;"/></name></Patient>`,
        { 'content-type': XML, accept: XML },
      );
      expect(answer.status).toBe(400);
      expect(answer.text).not.toContain(`value="${hostname}"`);
      const found = await call(
        'GET',
        `/Patient?family=${encodeURIComponent(hostname)}`,
        undefined,
        {
          accept: JSON_TYPE,
        },
      );
      expect(JSON.parse(found.text).total ?? JSON.parse(found.text).entry?.length ?? 0).toBe(0);
    });
  });
});
