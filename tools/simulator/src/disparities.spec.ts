import { DEFAULT_DISPARITIES, disparitiesFrom, rejection, unreachedShare } from './disparities';

describe('planted disparities of the demo', () => {
  const traits = (language: string, zip: string, category = 'food-insecurity') => ({
    language,
    zip,
    categories: [category],
  });

  it('are off unless asked for', () => {
    expect(disparitiesFrom(undefined)).toBeNull();
    expect(disparitiesFrom('off')).toBeNull();
    expect(disparitiesFrom('on')).toEqual(DEFAULT_DISPARITIES);
    expect(rejection(null, 'cbo-1', traits('es', '60623'), 0.1)).toEqual({ share: 0.1 });
  });

  it('reject the planted language more often at about the chosen share of CBOs, and no one else', () => {
    const cbos = Array.from({ length: 400 }, (_, i) => `cbo-${i}`);
    const biased = cbos.filter(
      (id) => rejection(DEFAULT_DISPARITIES, id, traits('es', '60601'), 0.1).share > 0.1,
    );
    expect(biased.length / cbos.length).toBeGreaterThan(0.4);
    expect(biased.length / cbos.length).toBeLessThan(0.6);
    for (const id of biased)
      expect(rejection(DEFAULT_DISPARITIES, id, traits('es', '60601'), 0.1).share).toBeCloseTo(0.3);
    for (const id of cbos)
      expect(rejection(DEFAULT_DISPARITIES, id, traits('en', '60601'), 0.1)).toEqual({
        share: 0.1,
      });
  });

  it('leave the planted language unreached after acceptance at the same CBOs, and no one else', () => {
    const cbos = Array.from({ length: 400 }, (_, i) => `cbo-${i}`);
    for (const id of cbos) {
      const biased = rejection(DEFAULT_DISPARITIES, id, traits('es', '60601'), 0.1).share > 0.1;
      expect(unreachedShare(DEFAULT_DISPARITIES, id, traits('es', '60601'))).toBe(biased ? 0.3 : 0);
      expect(unreachedShare(DEFAULT_DISPARITIES, id, traits('en', '60601'))).toBe(0);
      expect(unreachedShare(null, id, traits('es', '60601'))).toBe(0);
    }
  });

  it('turn housing referrals of the short ZIP away for capacity', () => {
    expect(
      rejection(DEFAULT_DISPARITIES, 'cbo-1', traits('en', '60623', 'housing-instability'), 0.1),
    ).toEqual({ share: 0.8, reason: 'No capacity: our waitlist is full this month' });
    expect(
      rejection(DEFAULT_DISPARITIES, 'cbo-1', traits('en', '60623', 'food-insecurity'), 0.1).share,
    ).toBe(0.1);
  });
});
