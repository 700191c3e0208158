import { formatDuration, isDuration, parseDuration } from './duration';

describe('policy durations', () => {
  it.each([
    ['P2D', 172_800],
    ['PT24H', 86_400],
    ['P1W', 604_800],
    ['PT90S', 90],
    ['PT1H30M', 5_400],
    ['P1DT12H', 129_600],
    ['PT2.5S', 3],
    ['120', 120],
    [2, 2],
    [0, 0],
  ])('reads %p as %p seconds', (spec, seconds) => {
    expect(parseDuration(spec)).toBe(seconds);
  });

  it('refuses years and months, and says why', () => {
    expect(() => parseDuration('P1M')).toThrow(/years and months/);
    expect(() => parseDuration('P1Y2D')).toThrow(/years and months/);
  });

  it.each(['', 'P', 'PT', '2 days', 'P-1D', '1.5', 'PT1H2D'])('refuses %p', (spec) => {
    expect(isDuration(spec)).toBe(false);
  });

  it('refuses negative and fractional seconds', () => {
    expect(isDuration(-1)).toBe(false);
    expect(isDuration(1.5)).toBe(false);
    expect(isDuration({})).toBe(false);
  });

  it('formats seconds back to ISO-8601', () => {
    expect(formatDuration(172_800)).toBe('P2D');
    expect(formatDuration(5_400)).toBe('PT1H30M');
    expect(formatDuration(129_602)).toBe('P1DT12H2S');
    expect(formatDuration(0)).toBe('PT0S');
  });
});
