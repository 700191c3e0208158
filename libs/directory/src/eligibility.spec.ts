import type { EligibilityRule } from './directory.model';
import { describeRule, evaluateEligibility } from './eligibility';
import { haversineKm, normalizePostalCode } from './geo';
import { describeLanguage, normalizeLanguageTag, primaryLanguage } from './languages';
import { Prng } from './prng';

describe('evaluateEligibility', () => {
  const check = (rule: EligibilityRule, value: string | number | boolean | undefined) =>
    evaluateEligibility({ rules: [rule] }, { attributes: { [rule.attribute]: value } }).outcome;

  it.each`
    rule                                                          | value           | outcome
    ${{ attribute: 'payer', op: 'eq', value: 'medicaid' }}        | ${'MEDICAID'}   | ${'pass'}
    ${{ attribute: 'payer', op: 'eq', value: 'medicaid' }}        | ${'medicare'}   | ${'fail'}
    ${{ attribute: 'payer', op: 'ne', value: 'commercial' }}      | ${'medicaid'}   | ${'pass'}
    ${{ attribute: 'payer', op: 'ne', value: 'commercial' }}      | ${'Commercial'} | ${'fail'}
    ${{ attribute: 'payer', op: 'in', values: ['a', 'b'] }}       | ${'b'}          | ${'pass'}
    ${{ attribute: 'payer', op: 'in', values: ['a', 'b'] }}       | ${'c'}          | ${'fail'}
    ${{ attribute: 'payer', op: 'not-in', values: ['a', 'b'] }}   | ${'c'}          | ${'pass'}
    ${{ attribute: 'payer', op: 'not-in', values: ['a', 'b'] }}   | ${'a'}          | ${'fail'}
    ${{ attribute: 'veteran', op: 'eq', value: true }}            | ${true}         | ${'pass'}
    ${{ attribute: 'veteran', op: 'eq', value: true }}            | ${'true'}       | ${'pass'}
    ${{ attribute: 'veteran', op: 'eq', value: true }}            | ${false}        | ${'fail'}
    ${{ attribute: 'household-size', op: 'gte', value: 3 }}       | ${3}            | ${'pass'}
    ${{ attribute: 'household-size', op: 'gt', value: 3 }}        | ${3}            | ${'fail'}
    ${{ attribute: 'income-percent-fpl', op: 'lte', value: 200 }} | ${'150'}        | ${'pass'}
    ${{ attribute: 'income-percent-fpl', op: 'lt', value: 200 }}  | ${200}          | ${'fail'}
    ${{ attribute: 'income-percent-fpl', op: 'lte', value: 200 }} | ${'lots'}       | ${'unknown'}
    ${{ attribute: 'payer', op: 'in', values: ['a'] }}            | ${undefined}    | ${'unknown'}
    ${{ attribute: 'payer', op: 'in', values: ['a'] }}            | ${''}           | ${'unknown'}
  `('$rule.attribute $rule.op … with $value → $outcome', ({ rule, value, outcome }) => {
    expect(check(rule, value)).toBe(outcome);
  });

  it('checks age bounds inclusively', () => {
    const e = { minAge: 18, maxAge: 64, rules: [] };
    expect(evaluateEligibility(e, { age: 18 }).outcome).toBe('pass');
    expect(evaluateEligibility(e, { age: 64 }).outcome).toBe('pass');
    expect(evaluateEligibility(e, { age: 65 }).checks[0]).toEqual({
      rule: 'age 18–64',
      outcome: 'fail',
      reason: 'age 65 is over 64',
    });
    expect(evaluateEligibility(e, {}).outcome).toBe('unknown');
  });

  it('fails when any check fails even if another is unknown', () => {
    const result = evaluateEligibility(
      { minAge: 60, rules: [{ attribute: 'veteran', op: 'eq', value: true }] },
      { age: 30 },
    );
    expect(result.outcome).toBe('fail');
  });

  it('describes rules in words, preferring the rule’s own description', () => {
    expect(describeRule({ attribute: 'payer', op: 'in', values: ['medicaid', 'medicare'] })).toBe(
      'payer in [medicaid, medicare]',
    );
    expect(
      describeRule({ attribute: 'veteran', op: 'eq', value: true, description: 'Veterans' }),
    ).toBe('Veterans');
  });
});

describe('geo', () => {
  it('computes great-circle distances (haversine)', () => {
    // New York City Hall to Los Angeles City Hall: about 3,936 km.
    expect(
      haversineKm({ lat: 40.7128, lon: -74.006 }, { lat: 34.0522, lon: -118.2437 }),
    ).toBeCloseTo(3936, -1);
    // One degree of latitude: about 111.2 km.
    expect(haversineKm({ lat: 41, lon: -87 }, { lat: 42, lon: -87 })).toBeCloseTo(111.2, 0);
    expect(haversineKm({ lat: 41.85, lon: -87.7 }, { lat: 41.85, lon: -87.7 })).toBe(0);
  });

  it('normalizes US ZIP codes', () => {
    expect(normalizePostalCode('60623')).toBe('60623');
    expect(normalizePostalCode(' 60623-4410 ')).toBe('60623');
    expect(normalizePostalCode('606234410')).toBe('60623');
    expect(normalizePostalCode('6062')).toBeUndefined();
    expect(normalizePostalCode('K1A 0B1')).toBeUndefined();
    expect(normalizePostalCode(undefined)).toBeUndefined();
  });
});

describe('languages', () => {
  it.each`
    input        | tag
    ${'es'}      | ${'es'}
    ${'ES-mx'}   | ${'es-MX'}
    ${'spa'}     | ${'es'}
    ${'Spanish'} | ${'es'}
    ${'zh-hant'} | ${'zh-Hant'}
    ${'chi'}     | ${'zh'}
    ${'Somali'}  | ${'so'}
    ${'hat'}     | ${'ht'}
    ${'x!'}      | ${undefined}
    ${''}        | ${undefined}
  `('normalizes $input to $tag', ({ input, tag }) => {
    expect(normalizeLanguageTag(input)).toBe(tag);
  });

  it('compares on the primary subtag and names languages', () => {
    expect(primaryLanguage('es-MX')).toBe('es');
    expect(describeLanguage('vi')).toBe('Vietnamese (vi)');
    expect(describeLanguage('xx')).toBe('xx');
  });
});

describe('Prng', () => {
  it('repeats its sequence for a seed and stays in range', () => {
    const a = new Prng(123);
    const b = new Prng(123);
    const xs = Array.from({ length: 1000 }, () => a.next());
    expect(Array.from({ length: 1000 }, () => b.next())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(new Set(xs).size).toBeGreaterThan(990);
    const ints = Array.from({ length: 1000 }, () => a.int(1, 6));
    expect(new Set(ints)).toEqual(new Set([1, 2, 3, 4, 5, 6]));
  });
});
