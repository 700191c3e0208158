/** An entry of an order: its sort key and its row (rows break ties, so entries are unique). */
export type Entry = readonly [key: number, row: number];

/**
 * An order of rows by key, then row, as two parallel arrays, with some entries taken out and
 * others put in: each position found by binary search, the runs between them copied whole.
 * Undefined when an entry to take out is not in the order.
 */
export function spliceOrder<K extends Uint32Array | Float64Array>(
  order: { rows: Uint32Array; keys: K },
  removed: Entry[],
  added: Entry[],
  descending: boolean,
): { rows: Uint32Array; keys: K } | undefined {
  const { rows, keys } = order;
  const before = (aKey: number, aRow: number, bKey: number, bRow: number) =>
    (descending ? aKey > bKey : aKey < bKey) || (aKey === bKey && aRow < bRow);
  /** The first position whose entry is not before (key, row). */
  const lowerBound = (key: number, row: number) => {
    let low = 0;
    let high = rows.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (before(keys[mid], rows[mid], key, row)) low = mid + 1;
      else high = mid;
    }
    return low;
  };
  const removals: number[] = [];
  for (const [key, row] of removed) {
    const at = lowerBound(key, row);
    if (at >= rows.length || rows[at] !== row || keys[at] !== key) return undefined;
    removals.push(at);
  }
  removals.sort((a, b) => a - b);
  const inserts = [...added].sort((a, b) =>
    before(a[0], a[1], b[0], b[1]) ? -1 : before(b[0], b[1], a[0], a[1]) ? 1 : 0,
  );
  const insertAt = inserts.map(([key, row]) => lowerBound(key, row));

  const length = rows.length - removals.length + inserts.length;
  const outRows = new Uint32Array(length);
  const outKeys = new (keys.constructor as new (n: number) => K)(length);
  let from = 0;
  let out = 0;
  let r = 0;
  let a = 0;
  for (;;) {
    const stop = Math.min(
      a < inserts.length ? insertAt[a] : rows.length,
      r < removals.length ? removals[r] : rows.length,
    );
    outRows.set(rows.subarray(from, stop), out);
    outKeys.set(keys.subarray(from, stop), out);
    out += stop - from;
    from = stop;
    // What goes in before an old entry comes before deciding whether that entry stays.
    if (a < inserts.length && insertAt[a] === from) {
      outKeys[out] = inserts[a][0];
      outRows[out++] = inserts[a++][1];
    } else if (r < removals.length && removals[r] === from) {
      from++;
      r++;
    } else if (from >= rows.length) break;
  }
  return { rows: outRows, keys: outKeys };
}
