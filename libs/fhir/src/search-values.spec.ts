import {
  dateRangeMatches,
  dateToRange,
  normalizeSearchString,
  numberMatches,
  parseDecimal,
  periodToRange,
  type SearchPrefix,
} from './search-values';

describe('dateToRange', () => {
  it.each([
    ['2020', '2020-01-01T00:00:00.000Z', '2021-01-01T00:00:00.000Z'],
    ['2020-02', '2020-02-01T00:00:00.000Z', '2020-03-01T00:00:00.000Z'],
    ['2020-12', '2020-12-01T00:00:00.000Z', '2021-01-01T00:00:00.000Z'],
    ['2020-02-29', '2020-02-29T00:00:00.000Z', '2020-03-01T00:00:00.000Z'],
    ['2020-09-11T21:56Z', '2020-09-11T21:56:00.000Z', '2020-09-11T21:57:00.000Z'],
    ['2020-09-11T21:56:54Z', '2020-09-11T21:56:54.000Z', '2020-09-11T21:56:55.000Z'],
    ['2020-09-11T21:56:54.6Z', '2020-09-11T21:56:54.600Z', '2020-09-11T21:56:54.700Z'],
    ['2020-09-11T21:56:54.671Z', '2020-09-11T21:56:54.671Z', '2020-09-11T21:56:54.672Z'],
    ['2020-09-11T21:56:54.671234Z', '2020-09-11T21:56:54.671Z', '2020-09-11T21:56:54.672Z'],
    ['2020-09-11T23:30:00-05:00', '2020-09-12T04:30:00.000Z', '2020-09-12T04:30:01.000Z'],
    ['2020-09-11T10:00:00', '2020-09-11T10:00:00.000Z', '2020-09-11T10:00:01.000Z'],
    ['0099', '0099-01-01T00:00:00.000Z', '0100-01-01T00:00:00.000Z'],
  ])('%s → [%s, %s)', (value, start, end) => {
    expect(dateToRange(value)).toEqual({ start, end });
  });

  it.each([
    '2020-13',
    '2021-02-29',
    '2020-01-32',
    '2020-01-01T24:00:00Z',
    '2020-01-01T10:61Z',
    '20',
    'x',
    '2020-1-1',
    '0000',
  ])('rejects %s', (value) => {
    expect(dateToRange(value)).toBeUndefined();
  });

  it('turns Periods into ranges with open sides', () => {
    expect(periodToRange({ start: '2020', end: '2020-06' })).toEqual({
      start: '2020-01-01T00:00:00.000Z',
      end: '2020-07-01T00:00:00.000Z',
    });
    expect(periodToRange({ end: '2020' })).toEqual({
      start: undefined,
      end: '2021-01-01T00:00:00.000Z',
    });
    expect(periodToRange({})).toBeUndefined();
    expect(periodToRange({ start: 'bad' })).toBeUndefined();
  });
});

describe('dateRangeMatches', () => {
  const day = { start: '2020-01-02T00:00:00.000Z', end: '2020-01-03T00:00:00.000Z' };
  const at = (instant: string) => ({ start: instant, end: instant.replace(/\.000Z$/, '.001Z') });
  const cases: [SearchPrefix, string, boolean][] = [
    ['eq', '2020-01-02T10:00:00.000Z', true],
    ['eq', '2020-01-03T00:00:00.000Z', false],
    ['ne', '2020-01-03T00:00:00.000Z', true],
    ['ne', '2020-01-02T00:00:00.000Z', false],
    ['gt', '2020-01-03T00:00:00.000Z', true],
    ['gt', '2020-01-02T23:59:59.000Z', false],
    ['ge', '2020-01-02T00:00:00.000Z', true],
    ['ge', '2020-01-01T23:59:59.000Z', false],
    ['lt', '2020-01-01T23:59:59.000Z', true],
    ['lt', '2020-01-02T00:00:00.000Z', false],
    ['le', '2020-01-02T23:59:59.000Z', true],
    ['le', '2020-01-03T00:00:00.000Z', false],
    ['sa', '2020-01-03T00:00:00.000Z', true],
    ['sa', '2020-01-02T12:00:00.000Z', false],
    ['eb', '2020-01-01T12:00:00.000Z', true],
    ['eb', '2020-01-02T00:00:00.000Z', false],
  ];
  it.each(cases)('%s 2020-01-02 against an instant %s → %s', (prefix, instant, expected) => {
    expect(dateRangeMatches(prefix, day, at(instant))).toBe(expected);
  });

  it('treats open Period sides as unbounded', () => {
    const openEnd = { start: '2019-06-01T00:00:00.000Z' };
    expect(dateRangeMatches('gt', day, openEnd)).toBe(true);
    expect(dateRangeMatches('eq', day, openEnd)).toBe(false);
    expect(dateRangeMatches('lt', day, { end: '2019-01-01T00:00:00.000Z' })).toBe(true);
    expect(dateRangeMatches('sa', day, { end: '2030-01-01T00:00:00.000Z' })).toBe(false);
  });
});

describe('numbers', () => {
  it('parses decimals with their implicit precision', () => {
    expect(parseDecimal('100')).toEqual({ value: 100, low: 99.5, high: 100.5 });
    expect(parseDecimal('1.0')).toEqual({ value: 1, low: 0.95, high: 1.05 });
    expect(parseDecimal('-2.50')).toEqual({ value: -2.5, low: -2.505, high: -2.495 });
    expect(parseDecimal('1e2')).toEqual({ value: 100, low: 50, high: 150 });
    expect(parseDecimal('01')).toBeUndefined();
    expect(parseDecimal('1.')).toBeUndefined();
    expect(parseDecimal('abc')).toBeUndefined();
    expect(parseDecimal('1e999')).toBeUndefined();
  });

  it('compares with prefixes', () => {
    const hundred = parseDecimal('100')!;
    expect(numberMatches('eq', hundred, 100.4)).toBe(true);
    expect(numberMatches('eq', hundred, 100.5)).toBe(false);
    expect(numberMatches('ne', hundred, 101)).toBe(true);
    expect(numberMatches('gt', hundred, 100.1)).toBe(true);
    expect(numberMatches('gt', hundred, 100)).toBe(false);
    expect(numberMatches('ge', hundred, 100)).toBe(true);
    expect(numberMatches('lt', hundred, 99.9)).toBe(true);
    expect(numberMatches('le', hundred, 100)).toBe(true);
    expect(numberMatches('sa', hundred, 101)).toBe(true);
    expect(numberMatches('eb', hundred, 100)).toBe(false);
  });
});

describe('normalizeSearchString', () => {
  it('folds case, accents and spaces', () => {
    expect(normalizeSearchString('  José   MARÍA Ñúñez ')).toBe('jose maria nunez');
  });
});
