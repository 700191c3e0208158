import fc from 'fast-check';
import { findUnsafeJson, unsafeTextProblem } from './safe-json';
import { unsafeQueryProblem } from './json-body';
import { toProblem } from './problem-details';
import { BadRequestException, ConflictException } from '@nestjs/common';

describe('findUnsafeJson', () => {
  it('refuses a NUL in a value or a member name, and a lone surrogate', () => {
    expect(findUnsafeJson({ a: ['x', 'b\u0000c'] })).toEqual({
      path: '$.a[1]',
      problem: 'contains a NUL character',
    });
    expect(findUnsafeJson({ 'k\u0000': 1 })?.problem).toMatch(/member name/);
    expect(findUnsafeJson({ name: 'a\ud800b' })?.problem).toMatch(/surrogate/);
    expect(findUnsafeJson({ name: 'a\udc00' })?.problem).toMatch(/surrogate/);
  });

  it('takes well-formed text, surrogate pairs included', () => {
    expect(findUnsafeJson({ name: 'Zoë 😀 \t\n', n: [1, true, null] })).toBeUndefined();
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value);
        const expected = /\\u0000/.test(text) || unsafeTextProblem(text) !== undefined;
        expect(findUnsafeJson(value, 1000) !== undefined).toBe(expected);
      }),
    );
  });

  it('refuses a hostile depth without recursing', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(findUnsafeJson(deep)?.problem).toBe('is nested deeper than 64 levels');
    expect(findUnsafeJson(JSON.parse('[[[["x"]]]]'), 4)).toBeUndefined();
  });
});

describe('unsafeQueryProblem', () => {
  it('decodes before it looks', () => {
    expect(unsafeQueryProblem('/fhir/Patient?name=a%00b')).toMatch(/NUL/);
    expect(unsafeQueryProblem('/x?note=%ED%A0%80')).toMatch(/percent-encoded/);
    expect(unsafeQueryProblem('/x?q=%ZZ')).toMatch(/percent-encoded/);
    expect(unsafeQueryProblem('/fhir/Patient?name=Zo%C3%AB&x=a+b')).toBeUndefined();
  });
});

describe('toProblem', () => {
  it('keeps the status, the messages and the extension members of an HttpException', () => {
    const p = toProblem(
      new BadRequestException({ message: ['a must be set', 'b is bad'], fields: ['a', 'b'] }),
    );
    expect(p).toMatchObject({
      type: 'about:blank',
      title: 'Bad request',
      status: 400,
      detail: 'a must be set; b is bad',
      fields: ['a', 'b'],
    });
    expect(toProblem(new ConflictException('taken'))).toMatchObject({
      status: 409,
      detail: 'taken',
    });
  });

  it('maps a database error caused by input to a 4xx that never quotes the value', () => {
    const driver = Object.assign(new Error('invalid input syntax for type date: "1961-02-30"'), {
      code: '22007',
    });
    const error = Object.assign(new Error(driver.message), {
      name: 'QueryFailedError',
      driverError: driver,
      parameters: ['Jane Doe', '1961-02-30'],
    });
    const p = toProblem(error);
    expect(p.status).toBe(400);
    expect(JSON.stringify(p)).not.toMatch(/1961|Jane/);
    expect(toProblem(new Error('boom'))).toMatchObject({ status: 500, detail: 'internal error' });
  });

  it('answers 503 (not 500) while the database is unreachable, saying nothing of it', () => {
    const refused = new Error('connect ECONNREFUSED 127.0.0.1:5432');
    expect(toProblem(refused)).toMatchObject({ status: 503, title: 'Service unavailable' });
    expect(JSON.stringify(toProblem(refused))).not.toMatch(/5432|ECONNREFUSED/);
  });
});
