import { spliceOrder, type Entry } from './sorted-splice';

function lcg(seed: number) {
  let state = seed;
  return () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
}

describe('spliceOrder', () => {
  const ascending = (a: Entry, b: Entry) => a[0] - b[0] || a[1] - b[1];
  const descending = (a: Entry, b: Entry) => b[0] - a[0] || a[1] - b[1];

  it.each([
    ['ascending', false, 1],
    ['descending', true, 2],
    ['ascending, many ties', false, 3],
  ] as const)('takes out and puts in as sorting the result would (%s)', (_, desc, seed) => {
    const random = lcg(seed);
    const keyRange = seed === 3 ? 5 : 1000;
    const compare = desc ? descending : ascending;
    for (let round = 0; round < 50; round++) {
      const size = Math.floor(random() * 300);
      const entries: Entry[] = Array.from({ length: size }, (_, row) => [
        Math.floor(random() * keyRange),
        row,
      ]);
      entries.sort(compare);
      const removed = entries.filter(() => random() < 0.1);
      const gone = new Set(removed.map(([, row]) => row));
      // New entries: rows taken out coming back with another key, and rows never seen.
      const added: Entry[] = [
        ...removed
          .filter(() => random() < 0.5)
          .map(([, row]) => [Math.floor(random() * keyRange), row] as const),
        ...Array.from(
          { length: Math.floor(random() * 10) },
          (_, k) => [Math.floor(random() * keyRange), size + k] as const,
        ),
      ];
      const spliced = spliceOrder(
        {
          rows: Uint32Array.from(entries, ([, row]) => row),
          keys: Float64Array.from(entries, ([key]) => key),
        },
        removed,
        added,
        desc,
      )!;
      const expected = [...entries.filter(([, row]) => !gone.has(row)), ...added].sort(compare);
      expect([...spliced.rows]).toEqual(expected.map(([, row]) => row));
      expect([...spliced.keys]).toEqual(expected.map(([key]) => key));
    }
  });

  it('refuses to take out an entry that is not there', () => {
    const order = { rows: Uint32Array.of(1, 2), keys: Uint32Array.of(10, 20) };
    expect(spliceOrder(order, [[15, 1]], [], false)).toBeUndefined();
    expect(spliceOrder(order, [[10, 3]], [], false)).toBeUndefined();
  });
});
