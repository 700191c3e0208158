import { haversineKm } from './geo';
import { directoryToHsds } from './hsds-export';
import { importHsds } from './hsds-import';
import { generateSampleDirectory, generateSampleHsds } from './sample-directory';
import { SAMPLE_REGION, sampleZipCentroids } from './sample-region';
import { rankServices } from './service-matching';

describe('generateSampleDirectory', () => {
  const directory = generateSampleDirectory({ seed: 7 });

  it('meets its size promises: ≥ 200 services, ≥ 60 organizations, ≥ 50 ZIP codes', () => {
    expect(directory.services.length).toBeGreaterThanOrEqual(200);
    expect(directory.organizations.length).toBeGreaterThanOrEqual(60);
    const locationZips = new Set(directory.locations.map((l) => l.address!.postalCode));
    expect(locationZips.size).toBeGreaterThanOrEqual(50);
    const areaZips = new Set(
      directory.services.flatMap((s) =>
        s.serviceAreas.flatMap((a) => (a.kind === 'postal-codes' ? a.postalCodes : [])),
      ),
    );
    expect(areaZips.size).toBeGreaterThanOrEqual(50);
  });

  it('honours the requested size', () => {
    const big = generateSampleDirectory({ seed: 1, services: 1000 });
    expect(big.services).toHaveLength(1000);
    expect(big.organizations.length).toBeGreaterThanOrEqual(Math.ceil(1000 / 3.5));
    expect(
      generateSampleDirectory({ services: 300, organizations: 80 }).organizations,
    ).toHaveLength(80);
  });

  it('is deterministic for a seed, different across seeds, and never uses Math.random', () => {
    const spy = jest.spyOn(Math, 'random').mockImplementation(() => {
      throw new Error('Math.random used');
    });
    try {
      expect(generateSampleDirectory({ seed: 7 })).toEqual(directory);
      expect(generateSampleDirectory({ seed: 8 })).not.toEqual(directory);
    } finally {
      spy.mockRestore();
    }
  });

  it('is realistic: several languages, categories, capacity states, eligibility rules, both area kinds', () => {
    const { services } = directory;
    const languages = new Set(services.flatMap((s) => s.languages));
    expect(languages.size).toBeGreaterThanOrEqual(6);
    expect([...languages]).toEqual(expect.arrayContaining(['en', 'es', 'pl', 'zh']));
    expect(new Set(services.flatMap((s) => s.categories)).size).toBeGreaterThanOrEqual(10);
    const statuses = services.map((s) => s.capacity.status);
    for (const status of ['available', 'waitlist', 'no-capacity'] as const) {
      expect(statuses.filter((s) => s === status).length).toBeGreaterThan(5);
    }
    expect(statuses.filter((s) => s === 'available').length).toBeGreaterThan(services.length / 2);
    expect(services.some((s) => s.eligibility.rules.some((r) => r.attribute === 'payer'))).toBe(
      true,
    );
    expect(services.some((s) => s.eligibility.minAge !== undefined)).toBe(true);
    const kinds = new Set(services.flatMap((s) => s.serviceAreas.map((a) => a.kind)));
    expect(kinds).toEqual(new Set(['postal-codes', 'radius']));
    expect(services.filter((s) => s.status === 'inactive').length).toBeGreaterThan(0);
  });

  it('is consistent: ids unique, references resolve, locations in the region', () => {
    const orgIds = new Set(directory.organizations.map((o) => o.id));
    const locById = new Map(directory.locations.map((l) => [l.id, l]));
    expect(orgIds.size).toBe(directory.organizations.length);
    expect(locById.size).toBe(directory.locations.length);
    expect(new Set(directory.services.map((s) => s.id)).size).toBe(directory.services.length);
    const regionZips = new Set(SAMPLE_REGION.zips.map((z) => z.zip));
    const centroids = sampleZipCentroids();
    for (const loc of directory.locations) {
      expect(orgIds.has(loc.organizationId)).toBe(true);
      expect(regionZips.has(loc.address!.postalCode)).toBe(true);
      // a site lies within a couple of km of its ZIP's centroid
      expect(haversineKm(loc.coordinates!, centroids.get(loc.address!.postalCode)!)).toBeLessThan(
        2,
      );
    }
    for (const s of directory.services) {
      expect(orgIds.has(s.organizationId)).toBe(true);
      for (const id of s.locationIds)
        expect(locById.get(id)?.organizationId).toBe(s.organizationId);
      for (const a of s.serviceAreas) {
        if (a.kind === 'postal-codes')
          for (const z of a.postalCodes) expect(regionZips.has(z)).toBe(true);
      }
    }
  });

  it('round-trips through HSDS 3.0: generate → HSDS JSON → import → the same model', () => {
    const json = JSON.stringify(directoryToHsds(directory));
    const { directory: imported, warnings } = importHsds(JSON.parse(json));
    expect(warnings).toEqual([]);
    expect(imported).toEqual(directory);
    expect(generateSampleHsds({ seed: 7 })).toEqual(JSON.parse(json));
  });

  it('routes a Spanish-speaking Little Village patient with food insecurity to a Spanish-speaking food service', () => {
    const ranked = rankServices(
      { categories: ['food-insecurity'], postalCode: '60623', language: 'es', age: 40 },
      directory.services,
      { locations: directory.locations, zipCentroids: sampleZipCentroids() },
    );
    expect(ranked.length).toBeGreaterThan(0);
    const best = ranked[0].explanation.factors;
    expect(best.language.outcome).toBe('match');
    expect(best.category.matched).toContain('food-insecurity');
    expect(best.area.outcome).toBe('covered');
    expect(best.capacity.status).toBe('available');
  });

  it('gives every ZIP at least one open food, housing and transportation service', () => {
    const options = { locations: directory.locations, zipCentroids: sampleZipCentroids() };
    const uncovered: string[] = [];
    for (const { zip } of SAMPLE_REGION.zips) {
      for (const category of [
        'food-insecurity',
        'housing-instability',
        'transportation-insecurity',
      ] as const) {
        const ranked = rankServices(
          { categories: [category], postalCode: zip, age: 40 },
          directory.services,
          options,
        );
        if (!ranked.some((c) => c.explanation.factors.eligibility.outcome === 'pass')) {
          uncovered.push(`${zip} ${category}`);
        }
      }
    }
    expect(uncovered).toEqual([]);
  });
});
