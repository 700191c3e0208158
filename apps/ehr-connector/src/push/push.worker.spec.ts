import { FhirRequestError, TokenRequestError } from '@carerelay/fhir-client';
import { isOutage, parks } from './push.worker';

const HOUR = 3_600_000;
const decide = (attempts: number, outage: boolean, waitedMs: number) =>
  parks({ attempts, maxAttempts: 10, outage, waitedMs, outageParkAfterMs: HOUR });

describe('push parking', () => {
  it('never parks before the attempt limit', () => {
    expect(decide(9, false, 2 * HOUR)).toBe(false);
    expect(decide(9, true, 2 * HOUR)).toBe(false);
  });

  it('parks a refusal at the attempt limit, however young', () => {
    expect(decide(10, false, 1_000)).toBe(true);
  });

  it('waits out an outage (a 10-minute EHR downtime) past the attempt limit', () => {
    expect(decide(10, true, 10 * 60_000)).toBe(false);
    expect(decide(40, true, HOUR - 1)).toBe(false);
  });

  it('parks an outage that lasts longer than the patience', () => {
    expect(decide(10, true, HOUR)).toBe(true);
  });
});

describe('isOutage', () => {
  const response = (status: number) => Object.assign(new Error('x'), { response: { status } });

  it.each([0, 408, 429, 500, 502, 503])('HTTP %i is an outage', (status) => {
    expect(isOutage(new FhirRequestError(status, undefined, 'x'))).toBe(true);
    expect(isOutage(response(status))).toBe(true);
  });

  it.each([400, 401, 403, 404, 409, 412, 422])('HTTP %i is a refusal', (status) => {
    expect(isOutage(new FhirRequestError(status, undefined, 'x'))).toBe(false);
    expect(isOutage(response(status))).toBe(false);
  });

  it('no answer at all (fetch failed) and an unreachable token endpoint are outages', () => {
    expect(isOutage(new TypeError('fetch failed'))).toBe(true);
    expect(isOutage(new TokenRequestError(503, 'x'))).toBe(true);
    expect(isOutage(new TokenRequestError(401, 'x'))).toBe(false);
  });

  it('our own bugs are not outages', () => {
    expect(isOutage(new TypeError('cannot read properties of undefined'))).toBe(false);
    expect(isOutage(new Error('boom'))).toBe(false);
  });
});
