import { bundleCost, checkBundleCost, checkSearchCost, searchQueryCost } from './cost';

const limits = { defaultCount: 20, maxCount: 100, maxSearchCost: 1000, maxBundleCost: 2000 };

describe('search and Bundle cost', () => {
  it('a search costs its capped page times one plus its includes', () => {
    expect(searchQueryCost(new URLSearchParams(''), limits)).toBe(20);
    expect(searchQueryCost(new URLSearchParams('_count=5000'), limits)).toBe(100);
    expect(
      searchQueryCost(new URLSearchParams('_count=50&_include=Task:focus&_revinclude=X:y'), limits),
    ).toBe(150);
    // An iterated include may run once per round (3).
    expect(
      searchQueryCost(
        new URLSearchParams(
          '_count=10&_include=Task:focus&_include:iterate=ServiceRequest:based-on',
        ),
        limits,
      ),
    ).toBe(50);
    expect(() => checkSearchCost(1001, limits)).toThrow(/more than 1000/);
    expect(() => checkSearchCost(1000, limits)).not.toThrow();
  });

  it('a batch of 500 searches of 100 is refused, 500 reads are not', () => {
    const searches = Array.from({ length: 500 }, () => ({ method: 'GET', url: 'Task?_count=100' }));
    expect(bundleCost(searches, limits)).toBe(50_000);
    expect(() => checkBundleCost(bundleCost(searches, limits), limits)).toThrow(
      expect.objectContaining({ status: 400 }),
    );
    const reads = Array.from({ length: 500 }, (_, i) => ({ method: 'GET', url: `Task/t${i}` }));
    expect(bundleCost(reads, limits)).toBe(500);
    expect(bundleCost([{ method: 'GET', url: 'Task/_search?_count=10' }], limits)).toBe(10);
    expect(bundleCost([{ method: 'POST', url: 'Patient' }], limits)).toBe(1);
  });
});
