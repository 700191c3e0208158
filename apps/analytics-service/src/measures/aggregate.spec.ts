import { kaplanMeier, kaplanMeierQuantile } from '../stats/survival';
import { kaplanMeierSorted, sortUint32 } from './aggregate';

/** A small deterministic generator, so a failure can be replayed. */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

describe('columnar Kaplan–Meier', () => {
  it('radix-sorts like the native numeric sort', () => {
    const random = lcg(7);
    const keys = Uint32Array.from({ length: 20_000 }, () => Math.floor(random() * 2 ** 32));
    expect([...sortUint32(keys.slice())]).toEqual([...keys.slice().sort()]);
  });

  it.each([100, 10_000])('agrees with the object implementation (%i subjects, ties)', (n) => {
    const random = lcg(n);
    const observations = Array.from({ length: n }, () => ({
      time: Math.floor(random() * 500),
      event: random() < 0.6,
    }));
    const keys = Uint32Array.from(observations, (o) => o.time * 2 + (o.event ? 0 : 1));
    const steps = kaplanMeier(observations);
    expect(kaplanMeierSorted(sortUint32(keys))).toEqual({
      median: kaplanMeierQuantile(steps, 0.5),
      p90: kaplanMeierQuantile(steps, 0.9),
    });
  });
});
