import { GroupCommit, JointRunFailed } from './group-commit';

/** A run that stays open until released, recording what each run held. */
function gatedRuns(failWhen: (items: string[]) => boolean = () => false) {
  const runs: string[][] = [];
  const gates: Array<() => void> = [];
  const group = new GroupCommit<string>(async (items) => {
    runs.push(items);
    await new Promise<void>((release) => gates.push(release));
    if (failWhen(items)) throw new Error(`run of ${items.join(',')} failed`);
  });
  const releaseNext = async () => {
    while (gates.length === 0) await new Promise((resolve) => setImmediate(resolve));
    gates.shift()!();
  };
  return { group, runs, releaseNext };
}

describe('GroupCommit', () => {
  it('runs a caller alone at once, and groups those that arrive while a run is going', async () => {
    const { group, runs, releaseNext } = gatedRuns();
    const first = group.submit(['a1', 'a2']);
    const second = group.submit(['b1']);
    const third = group.submit(['c1', 'c2']);
    expect(runs).toEqual([['a1', 'a2']]);

    await releaseNext();
    await first;
    await releaseNext();
    await Promise.all([second, third]);

    expect(runs).toEqual([
      ['a1', 'a2'],
      ['b1', 'c1', 'c2'],
    ]);
  });

  it('rejects a lone caller with the run error itself', async () => {
    const { group, releaseNext } = gatedRuns(() => true);
    const alone = group.submit(['a1']);
    await releaseNext();
    await expect(alone).rejects.toThrow('run of a1 failed');
  });

  it('tells every caller of a failed joint run to try alone, and goes on with later callers', async () => {
    const { group, runs, releaseNext } = gatedRuns((items) => items.includes('bad'));
    const first = group.submit(['a1']);
    const good = group.submit(['b1']);
    const bad = group.submit(['bad']);
    await releaseNext();
    await first;
    const outcomes = Promise.allSettled([good, bad]);
    await releaseNext();
    const [goodOutcome, badOutcome] = await outcomes;

    for (const outcome of [goodOutcome, badOutcome]) {
      expect(outcome.status).toBe('rejected');
      const reason = (outcome as PromiseRejectedResult).reason as JointRunFailed;
      expect(reason).toBeInstanceOf(JointRunFailed);
      expect(String(reason.failure)).toContain('run of b1,bad failed');
    }

    const later = group.submit(['c1']);
    await releaseNext();
    await later;
    expect(runs).toEqual([['a1'], ['b1', 'bad'], ['c1']]);
  });
});
