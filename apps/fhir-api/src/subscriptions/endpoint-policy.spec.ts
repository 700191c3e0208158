import { FhirError } from '@carerelay/fhir';
import {
  checkEndpointUrl,
  checkHeaders,
  endpointPolicy,
  guardedLookup,
  isForbiddenAddress,
} from './endpoint-policy';

const refusal = (fn: () => unknown): FhirError => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(FhirError);
    return error as FhirError;
  }
  throw new Error('expected a refusal');
};

describe('isForbiddenAddress', () => {
  it.each([
    '127.0.0.1',
    '127.255.0.9',
    '0.0.0.0',
    '10.0.0.1',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '224.0.0.1',
    '255.255.255.255',
    '192.0.2.5',
    '::1',
    '::',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    'fd00::1',
    'fe80::1',
    'ff02::1',
    '64:ff9b::7f00:1',
    '2002:7f00:1::',
    'not an address',
  ])('refuses %s', (address) => expect(isForbiddenAddress(address)).toBe(true));

  it.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '2606:2800:220:1::1', '::ffff:8.8.8.8'])(
    'allows the public address %s',
    (address) => expect(isForbiddenAddress(address)).toBe(false),
  );
});

describe('checkEndpointUrl', () => {
  const policy = endpointPolicy('hooks.internal, 127.0.0.1');

  it('takes https anywhere, http only to allow-listed hosts', () => {
    expect(checkEndpointUrl('https://example.org/hook', policy).host).toBe('example.org');
    expect(checkEndpointUrl('http://hooks.internal:9000/x', policy).port).toBe('9000');
    expect(checkEndpointUrl('http://127.0.0.1:1/x', policy).hostname).toBe('127.0.0.1');
  });

  it('refuses everything else with one and the same answer', () => {
    const texts = new Set(
      [
        'http://example.org/hook',
        'ftp://example.org/',
        'https://user:secret@example.org/',
        'not a url',
        'http://127.0.0.2/',
      ].map((url) => refusal(() => checkEndpointUrl(url, policy)).issues[0].diagnostics),
    );
    expect(texts.size).toBe(1);
  });
});

describe('guardedLookup', () => {
  const lookup = (host: string, policy = endpointPolicy('')) =>
    new Promise<{ error: Error | null; address: unknown }>((resolve) =>
      guardedLookup(policy)(host, { all: true }, (error, address) => resolve({ error, address })),
    );

  it('refuses a name that resolves to loopback unless it is allow-listed', async () => {
    expect((await lookup('localhost')).error?.message).toMatch(/may not be sent/);
    const allowed = await lookup('localhost', endpointPolicy('localhost'));
    expect(allowed.error).toBeNull();
    expect((allowed.address as { address: string }[]).length).toBeGreaterThan(0);
  });
});

describe('checkHeaders', () => {
  it('takes custom X- headers', () => {
    expect(checkHeaders(['X-Subscription-Token: abc', 'X-Tenant:  t1'])).toEqual([
      ['X-Subscription-Token', 'abc'],
      ['X-Tenant', 't1'],
    ]);
  });

  it.each([
    'Authorization: Bearer x',
    'Cookie: a=b',
    'Host: internal',
    'Content-Length: 1',
    'X-Forwarded-Host: internal',
    'X-Dev-Actor: platform:x',
    'X-HTTP-Method-Override: DELETE',
    'X-A: line\r\nInjected: yes',
    'X-Empty:',
    `X-Long: ${'a'.repeat(600)}`,
    'no colon',
  ])('refuses %j', (header) => {
    expect(refusal(() => checkHeaders([header])).status).toBe(422);
  });

  it('refuses more than eight', () => {
    expect(
      refusal(() => checkHeaders(Array.from({ length: 9 }, (_, i) => `X-H${i}: v`))).status,
    ).toBe(422);
  });
});
