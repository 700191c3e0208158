import { sumOfSamples } from './metrics';

const exposition = `# HELP carerelay_refused_total Requests refused
# TYPE carerelay_refused_total counter
carerelay_refused_total{lane="new",app="fhir-api"} 3
carerelay_refused_total{lane="under-way",app="fhir-api"} 4
carerelay_refused_total_created{lane="new"} 1700000000
carerelay_in_flight 2
carerelay_odd{reason="a, \\"quoted\\" one"} 5
`;

describe('sumOfSamples', () => {
  it('sums every sample of the metric when no label is given', () => {
    expect(sumOfSamples(exposition, 'carerelay_refused_total')).toBe(7);
  });

  it('sums only the samples carrying every label given', () => {
    expect(sumOfSamples(exposition, 'carerelay_refused_total', { lane: 'new' })).toBe(3);
    expect(
      sumOfSamples(exposition, 'carerelay_refused_total', { lane: 'under-way', app: 'fhir-api' }),
    ).toBe(4);
    expect(sumOfSamples(exposition, 'carerelay_refused_total', { lane: 'platform' })).toBe(0);
  });

  it('reads a metric without labels, and labels holding commas and quotes', () => {
    expect(sumOfSamples(exposition, 'carerelay_in_flight')).toBe(2);
    expect(sumOfSamples(exposition, 'carerelay_odd', { reason: 'a, \\"quoted\\" one' })).toBe(5);
  });

  it('is 0 for a metric not exposed, and never counts a longer name that starts alike', () => {
    expect(sumOfSamples(exposition, 'carerelay_missing_total')).toBe(0);
    expect(sumOfSamples(exposition, 'carerelay_refused')).toBe(0);
  });

  it('refuses a name with labels in it, which would otherwise read as 0', () => {
    expect(() => sumOfSamples(exposition, 'carerelay_refused_total{lane="new"}')).toThrow(
      /not a metric name/,
    );
  });
});
