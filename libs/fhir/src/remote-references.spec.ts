import {
  endpointOfReference,
  isLocalizedReference,
  isRemoteReference,
  normalizeBaseUrl,
  referenceOnBase,
} from './remote-references';

describe('normalizeBaseUrl', () => {
  it('spells a base one way: lower-case scheme and host, no default port, no trailing slash', () => {
    expect(normalizeBaseUrl('HTTPS://EHR.Example.org:443/fhir/')).toBe(
      'https://ehr.example.org/fhir',
    );
    expect(normalizeBaseUrl('http://127.0.0.1:8090/fhir')).toBe('http://127.0.0.1:8090/fhir');
    expect(normalizeBaseUrl('http://ehr.example.org:80')).toBe('http://ehr.example.org');
  });

  it('is undefined for what is no http(s) base', () => {
    for (const url of [
      '',
      'ftp://ehr/fhir',
      'not a url',
      'https://u:p@ehr/fhir',
      'https://ehr/fhir?x=1',
    ])
      expect(normalizeBaseUrl(url)).toBeUndefined();
  });
});

describe('referenceOnBase', () => {
  const base = 'https://ehr.example.org/fhir';

  it('names the resource of an absolute reference on the base', () => {
    expect(referenceOnBase('https://ehr.example.org/fhir/ServiceRequest/123', base)).toEqual({
      baseUrl: base,
      resourceType: 'ServiceRequest',
      id: '123',
      url: 'https://ehr.example.org/fhir/ServiceRequest/123',
    });
    expect(
      referenceOnBase('https://EHR.example.org:443/fhir/Patient/9/_history/2', `${base}/`),
    ).toMatchObject({ resourceType: 'Patient', id: '9' });
  });

  it('refuses another host, port, scheme or path, and what is not Type/id below the base', () => {
    for (const reference of [
      'https://ehr.example.org.evil.test/fhir/ServiceRequest/1',
      'https://ehr.example.org:8443/fhir/ServiceRequest/1',
      'http://ehr.example.org/fhir/ServiceRequest/1',
      'https://ehr.example.org/fhir2/ServiceRequest/1',
      'https://ehr.example.org/ServiceRequest/1',
      'https://ehr.example.org/fhir/ServiceRequest',
      'https://ehr.example.org/fhir/ServiceRequest/1/extra',
      'https://ehr.example.org/fhir/ServiceRequest?identifier=x',
      'https://ehr.example.org/fhir/serviceRequest/1',
      'ServiceRequest/1',
      undefined,
    ])
      expect(referenceOnBase(reference, base)).toBeUndefined();
  });
});

describe('isRemoteReference', () => {
  const local = ['http://localhost:8080/fhir'];

  it('is true for an absolute URL on another server only', () => {
    expect(isRemoteReference('https://ehr.example.org/fhir/ServiceRequest/1', local)).toBe(true);
    expect(isRemoteReference('http://localhost:8080/fhir/ServiceRequest/1', local)).toBe(false);
    expect(isRemoteReference('ServiceRequest/1', local)).toBe(false);
    expect(isRemoteReference('urn:uuid:0e4f2c4a-1a7b-4d67-9f5c-1a2b3c4d5e6f', local)).toBe(false);
    expect(isRemoteReference(undefined, local)).toBe(false);
  });
});

describe('endpointOfReference', () => {
  const endpoints = [
    { id: 'a', baseUrl: 'https://ehr.example.org/fhir' },
    { id: 'b', baseUrl: 'https://ehr.example.org/fhir/r4' },
    { id: 'c', baseUrl: 'http://127.0.0.1:8090/fhir/' },
  ];

  it('finds the endpoint whose base the reference is on (the longest base first)', () => {
    expect(
      endpointOfReference('https://ehr.example.org/fhir/ServiceRequest/1', endpoints)?.endpoint.id,
    ).toBe('a');
    expect(
      endpointOfReference('https://ehr.example.org/fhir/r4/ServiceRequest/1', endpoints)?.endpoint
        .id,
    ).toBe('b');
    expect(
      endpointOfReference('http://127.0.0.1:8090/fhir/Patient/p-1', endpoints)?.target,
    ).toMatchObject({ resourceType: 'Patient', id: 'p-1' });
  });

  it('finds none for an unknown server', () => {
    expect(endpointOfReference('https://other.example.org/fhir/ServiceRequest/1', endpoints)).toBe(
      undefined,
    );
    expect(endpointOfReference('http://127.0.0.1:8091/fhir/ServiceRequest/1', endpoints)).toBe(
      undefined,
    );
    expect(endpointOfReference('https://ehr.example.org/fhir/ServiceRequest/1', [])).toBe(
      undefined,
    );
  });
});

describe('isLocalizedReference', () => {
  const local = ['http://localhost:8080/fhir'];
  const before = { reference: 'https://ehr.example.org/fhir/ServiceRequest/123' };
  const identifier = { system: 'https://ehr.example.org/fhir/ServiceRequest', value: '123' };

  it('accepts the local copy that keeps the original as its identifier', () => {
    expect(
      isLocalizedReference(before, { reference: 'ServiceRequest/abc', identifier }, local),
    ).toBe(true);
  });

  it('refuses another type, another original, no identifier, or a local original', () => {
    expect(isLocalizedReference(before, { reference: 'Patient/abc', identifier }, local)).toBe(
      false,
    );
    expect(
      isLocalizedReference(
        before,
        { reference: 'ServiceRequest/abc', identifier: { ...identifier, value: '124' } },
        local,
      ),
    ).toBe(false);
    expect(isLocalizedReference(before, { reference: 'ServiceRequest/abc' }, local)).toBe(false);
    expect(
      isLocalizedReference(
        before,
        { reference: 'https://ehr.example.org/fhir/ServiceRequest/999', identifier },
        local,
      ),
    ).toBe(false);
    expect(
      isLocalizedReference(
        { reference: 'http://localhost:8080/fhir/ServiceRequest/1' },
        {
          reference: 'ServiceRequest/abc',
          identifier: { system: 'http://localhost:8080/fhir/ServiceRequest', value: '1' },
        },
        local,
      ),
    ).toBe(false);
  });
});
