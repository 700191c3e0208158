import type { Location, Organization, Service } from './directory.model';
import {
  evaluateService,
  explainRejections,
  rankServices,
  type ReferralNeed,
} from './service-matching';

const SNOMED = 'http://snomed.info/sct';
const FOOD_PANTRY_APP = {
  system: SNOMED,
  code: '467771000124109',
  display: 'Assistance with application for food pantry program',
};
const PROVISION_OF_FOOD = { system: SNOMED, code: '710925007', display: 'Provision of food' };

const PILSEN = { lat: 41.8525, lon: -87.6631 }; // ZIP 60608
const LITTLE_VILLAGE = { lat: 41.849, lon: -87.717 }; // ZIP 60623
const LINCOLN_PARK = { lat: 41.922, lon: -87.651 }; // ZIP 60614

function location(id: string, organizationId: string, zip: string, coordinates = PILSEN): Location {
  return {
    id,
    organizationId,
    name: id,
    address: { line: ['1 Main St'], city: 'Chicago', state: 'IL', postalCode: zip, country: 'US' },
    coordinates,
  };
}

function service(id: string, overrides: Partial<Service> = {}): Service {
  return {
    id,
    organizationId: `org-${id}`,
    name: `Service ${id}`,
    status: 'active',
    categories: ['food-insecurity'],
    codes: [FOOD_PANTRY_APP],
    languages: ['en'],
    serviceAreas: [{ kind: 'postal-codes', postalCodes: ['60608', '60623'] }],
    eligibility: { rules: [] },
    schedule: [],
    capacity: { status: 'available' },
    locationIds: [],
    ...overrides,
  };
}

const spanishFoodNeed: ReferralNeed = {
  categories: ['food-insecurity'],
  codes: [FOOD_PANTRY_APP],
  postalCode: '60623',
  language: 'es',
  age: 34,
};

describe('rankServices', () => {
  // 'a-…' sorts first, so a broken language factor would put the English-only pantry on top.
  const englishPantry = service('a-pantry-en', { languages: ['en'] });
  const spanishPantry = service('b-pantry-es', { languages: ['en', 'es'] });
  const fullPantry = service('c-pantry-full', {
    languages: ['es'],
    capacity: { status: 'no-capacity' },
  });
  const northSidePantry = service('d-pantry-north', {
    languages: ['es'],
    serviceAreas: [{ kind: 'postal-codes', postalCodes: ['60614'] }],
  });
  const housing = service('e-housing-es', {
    categories: ['housing-instability'],
    languages: ['es'],
  });
  const directory = [englishPantry, fullPantry, northSidePantry, housing, spanishPantry];

  it('ranks the Spanish-speaking food pantry serving the ZIP first and says why', () => {
    const ranked = rankServices(spanishFoodNeed, directory);

    expect(ranked.map((c) => c.serviceId)).toEqual(['b-pantry-es', 'a-pantry-en']);
    const [best, second] = ranked;
    expect(best.score).toBeGreaterThan(second.score);
    expect(best.explanation.factors.language).toMatchObject({ outcome: 'match', score: 30 });
    expect(second.explanation.factors.language).toMatchObject({ outcome: 'no-match', score: 0 });
    expect(best.explanation.reasons).toEqual(
      expect.arrayContaining([
        'Serves food insecurity',
        `Provides the requested service: ${FOOD_PANTRY_APP.display} (${FOOD_PANTRY_APP.code})`,
        'Staff speak Spanish (es), the preferred language',
        'Covers ZIP 60623',
        'No eligibility restrictions',
        'Has capacity',
      ]),
    );
    expect(second.explanation.reasons).toContain(
      'Does not offer Spanish (es); offers English (en)',
    );
  });

  it('leaves out services with no capacity, outside the area, or in another category', () => {
    const ranked = rankServices(spanishFoodNeed, directory).map((c) => c.serviceId);
    expect(ranked).not.toContain('c-pantry-full');
    expect(ranked).not.toContain('d-pantry-north');
    expect(ranked).not.toContain('e-housing-es');

    const rejections = explainRejections(spanishFoodNeed, directory);
    expect(rejections).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ serviceId: 'c-pantry-full', filter: 'no-capacity' }),
        expect.objectContaining({
          serviceId: 'd-pantry-north',
          filter: 'area',
          reason: 'does not cover ZIP 60623',
        }),
        expect.objectContaining({
          serviceId: 'e-housing-es',
          filter: 'category',
          reason: 'serves housing instability, not food insecurity',
        }),
      ]),
    );
  });

  it('skips excluded organizations and services (already tried or rejected)', () => {
    const ranked = rankServices(
      { ...spanishFoodNeed, excludeOrganizationIds: ['org-b-pantry-es'] },
      directory,
    );
    expect(ranked.map((c) => c.serviceId)).toEqual(['a-pantry-en']);

    const byService = rankServices(
      { ...spanishFoodNeed, excludeServiceIds: ['a-pantry-en'] },
      directory,
    );
    expect(byService.map((c) => c.serviceId)).toEqual(['b-pantry-es']);
    expect(
      evaluateService(
        { ...spanishFoodNeed, excludeOrganizationIds: ['org-b-pantry-es'] },
        spanishPantry,
      ),
    ).toMatchObject({ accepted: false, rejection: { filter: 'excluded-organization' } });
  });

  it('leaves out inactive services', () => {
    const ranked = rankServices(spanishFoodNeed, [
      service('x', { status: 'inactive', languages: ['es'] }),
      englishPantry,
    ]);
    expect(ranked.map((c) => c.serviceId)).toEqual(['a-pantry-en']);
  });

  it('puts a waitlisted service below an available one and explains the penalty', () => {
    const waitlisted = service('a-waitlist', {
      languages: ['es'],
      capacity: { status: 'waitlist', notes: 'about 15 households waiting' },
    });
    const ranked = rankServices(spanishFoodNeed, [waitlisted, spanishPantry]);
    expect(ranked.map((c) => c.serviceId)).toEqual(['b-pantry-es', 'a-waitlist']);
    expect(ranked[0].score - ranked[1].score).toBe(25);
    expect(ranked[1].explanation.factors.capacity).toEqual({ score: -25, status: 'waitlist' });
    expect(ranked[1].explanation.reasons).toContain(
      'No capacity now, has a waitlist (about 15 households waiting)',
    );
  });

  it('scores the exact requested service code above a category-only match', () => {
    const categoryOnly = service('a-meals', { languages: ['es'], codes: [PROVISION_OF_FOOD] });
    const ranked = rankServices(spanishFoodNeed, [categoryOnly, spanishPantry]);
    expect(ranked.map((c) => c.serviceId)).toEqual(['b-pantry-es', 'a-meals']);
    expect(ranked[1].explanation.factors.code.score).toBe(0);
    expect(ranked[1].explanation.reasons).toContain(
      `Does not list the requested service ${FOOD_PANTRY_APP.display} (${FOOD_PANTRY_APP.code}); matched on category`,
    );
  });

  it('gives the full category score only when every requested category is served', () => {
    const need: ReferralNeed = {
      categories: ['housing-instability', 'utility-insecurity'],
      postalCode: '60623',
    };
    const both = service('a-both', { categories: ['housing-instability', 'utility-insecurity'] });
    const one = service('b-one', { categories: ['utility-insecurity'] });
    const ranked = rankServices(need, [one, both]);
    expect(ranked.map((c) => [c.serviceId, c.explanation.factors.category.score])).toEqual([
      ['a-both', 20],
      ['b-one', 10],
    ]);
    expect(ranked[1].explanation.reasons[0]).toBe(
      'Serves utility insecurity (1 of 2 requested categories)',
    );
  });

  describe('service areas', () => {
    const radiusService = service('r-radius', {
      serviceAreas: [{ kind: 'radius', center: LITTLE_VILLAGE, radiusKm: 5, locationId: 'loc-lv' }],
    });

    it('matches a radius area by distance from its center (haversine)', () => {
      // 2 km east of the center, in a ZIP no postal-code area lists.
      const near = { lat: 41.849, lon: -87.693 };
      const ranked = rankServices(
        { categories: ['food-insecurity'], postalCode: '60616', location: near },
        [radiusService],
      );
      expect(ranked).toHaveLength(1);
      const area = ranked[0].explanation.factors.area;
      expect(area).toMatchObject({ outcome: 'covered', by: 'radius', radiusKm: 5 });
      expect(area.distanceToCenterKm).toBeCloseTo(1.99, 1);
      expect(ranked[0].explanation.reasons).toContain(
        'Within its 5 km service radius (2.0 km from its center)',
      );
    });

    it('rejects a person outside the radius', () => {
      const result = evaluateService(
        { categories: ['food-insecurity'], location: LINCOLN_PARK },
        radiusService,
      );
      expect(result).toMatchObject({ accepted: false, rejection: { filter: 'area' } });
    });

    it('places a person known only by ZIP with the ZIP centroids', () => {
      const need: ReferralNeed = { categories: ['food-insecurity'], postalCode: '60608' };
      expect(evaluateService(need, radiusService)).toMatchObject({
        accepted: true,
        candidate: { explanation: { factors: { area: { outcome: 'unknown', score: -10 } } } },
      });
      const withCentroids = evaluateService(need, radiusService, {
        zipCentroids: { '60608': PILSEN },
      });
      expect(withCentroids).toMatchObject({
        accepted: true,
        candidate: { explanation: { factors: { area: { outcome: 'covered', by: 'radius' } } } },
      });
    });

    it('normalizes ZIP+4 codes', () => {
      const ranked = rankServices({ ...spanishFoodNeed, postalCode: '60623-4410' }, [
        spanishPantry,
      ]);
      expect(ranked).toHaveLength(1);
    });

    it('penalizes, or with whenUnknown=exclude leaves out, services when the area is unknown', () => {
      const need: ReferralNeed = { categories: ['food-insecurity'], language: 'es' };
      const ranked = rankServices(need, [spanishPantry]);
      expect(ranked[0].explanation.factors.area).toEqual({ outcome: 'unknown', score: -10 });
      expect(ranked[0].explanation.reasons).toContain(
        "Coverage unverified: the person's ZIP code and location are unknown",
      );
      expect(rankServices(need, [spanishPantry], { whenUnknown: 'exclude' })).toEqual([]);
    });

    it('ranks the nearer of two otherwise equal services first', () => {
      const locations = [
        location('loc-near', 'org-z-near', '60623', LITTLE_VILLAGE),
        location('loc-far', 'org-a-far', '60614', LINCOLN_PARK),
      ];
      const near = service('z-near', { locationIds: ['loc-near'] });
      const far = service('a-far', { locationIds: ['loc-far'] });
      const ranked = rankServices(
        { categories: ['food-insecurity'], postalCode: '60623', location: LITTLE_VILLAGE },
        [far, near],
        { locations },
      );
      expect(ranked.map((c) => c.serviceId)).toEqual(['z-near', 'a-far']);
      expect(ranked[0].explanation.factors.distance).toEqual({ score: 15, km: 0, to: 'location' });
      expect(ranked[1].explanation.factors.distance.km).toBeGreaterThan(8);
    });
  });

  describe('eligibility', () => {
    const seniors = service('s-seniors', { eligibility: { minAge: 60, rules: [] } });

    it('leaves out a service the person is too young for, and says so', () => {
      expect(evaluateService(spanishFoodNeed, seniors)).toEqual({
        accepted: false,
        rejection: {
          serviceId: 's-seniors',
          organizationId: 'org-s-seniors',
          filter: 'eligibility',
          reason: 'not eligible: age 34 is under 60',
        },
      });
    });

    it('keeps it for an eligible age with the passing rule in the explanation', () => {
      const ranked = rankServices({ ...spanishFoodNeed, age: 70 }, [seniors]);
      expect(ranked[0].explanation.factors.eligibility.outcome).toBe('pass');
      expect(ranked[0].explanation.reasons).toContain('Eligible: age 70 meets age 60 or older');
    });

    it('applies rules on other attributes (payer, veteran)', () => {
      const medicaidRides = service('m-rides', {
        eligibility: {
          rules: [
            { attribute: 'payer', op: 'in', values: ['medicaid', 'medicare'] },
            { attribute: 'veteran', op: 'eq', value: true },
          ],
        },
      });
      const ok = evaluateService(
        { ...spanishFoodNeed, attributes: { payer: 'Medicaid', veteran: 'true' } },
        medicaidRides,
      );
      expect(ok).toMatchObject({ accepted: true });
      const wrongPayer = evaluateService(
        { ...spanishFoodNeed, attributes: { payer: 'commercial', veteran: true } },
        medicaidRides,
      );
      expect(wrongPayer).toMatchObject({
        accepted: false,
        rejection: {
          filter: 'eligibility',
          reason: 'not eligible: payer is commercial (requires payer in [medicaid, medicare])',
        },
      });
    });

    it('penalizes unknown eligibility data, or leaves the service out with whenUnknown=exclude', () => {
      const need: ReferralNeed = { ...spanishFoodNeed, age: undefined };
      const open = service('o-open', { languages: ['es'] });
      const ranked = rankServices(need, [seniors, open]);
      expect(ranked.map((c) => c.serviceId)).toEqual(['o-open', 's-seniors']);
      expect(ranked[0].score - ranked[1].score).toBeCloseTo(30 + 10, 5); // language + penalty
      expect(ranked[1].explanation.reasons).toContain(
        'Eligibility unverified: age is unknown (age 60 or older)',
      );
      expect(
        rankServices(need, [seniors, open], { whenUnknown: 'exclude' }).map((c) => c.serviceId),
      ).toEqual(['o-open']);
    });
  });

  it('restricts to a network when asked', () => {
    const organizations: Organization[] = [
      { id: 'org-a-pantry-en', name: 'A', networks: ['south'], identifiers: [] },
      { id: 'org-b-pantry-es', name: 'B', networks: ['north'], identifiers: [] },
    ];
    const ranked = rankServices(spanishFoodNeed, [englishPantry, spanishPantry], {
      organizations,
      networkId: 'south',
    });
    expect(ranked.map((c) => c.serviceId)).toEqual(['a-pantry-en']);
  });

  it('orders deterministically, ties broken by service id, whatever the input order', () => {
    const twins = ['t-3', 't-1', 't-2'].map((id) => service(id, { languages: ['es'] }));
    const forward = rankServices(spanishFoodNeed, twins).map((c) => c.serviceId);
    const backward = rankServices(spanishFoodNeed, [...twins].reverse()).map((c) => c.serviceId);
    expect(forward).toEqual(['t-1', 't-2', 't-3']);
    expect(backward).toEqual(forward);
  });

  it('returns at most `limit` candidates', () => {
    const many = Array.from({ length: 10 }, (_, i) => service(`s-${i}`));
    expect(rankServices(spanishFoodNeed, many, { limit: 3 })).toHaveLength(3);
  });

  it('treats a service without listed languages as English-speaking', () => {
    const silent = service('q', { languages: [] });
    const ranked = rankServices({ ...spanishFoodNeed, language: 'en-US' }, [silent]);
    expect(ranked[0].explanation.factors.language).toMatchObject({ outcome: 'match', score: 30 });
  });

  it('matches language on the primary subtag and accepts names and ISO 639-2 codes', () => {
    const ranked = rankServices({ ...spanishFoodNeed, language: 'es-MX' }, [spanishPantry]);
    expect(ranked[0].explanation.factors.language.outcome).toBe('match');
    const named = rankServices({ ...spanishFoodNeed, language: 'Spanish' }, [spanishPantry]);
    expect(named[0].explanation.factors.language.outcome).toBe('match');
  });
});
