import { TransactionMemo } from './transaction-memo';

describe('TransactionMemo', () => {
  it('reads a key once per transaction, again in another transaction', async () => {
    const memo = new TransactionMemo<number>();
    const reads: string[] = [];
    const read = (what: string, value: number) => () => {
      reads.push(what);
      return Promise.resolve(value);
    };
    const [tx1, tx2] = [{}, {}];
    const firstTwo = [memo.get(tx1, 'a', read('tx1 a', 1)), memo.get(tx1, 'a', read('tx1 a', 9))];
    expect(await Promise.all(firstTwo)).toEqual([1, 1]);
    expect(await memo.get(tx1, 'b', read('tx1 b', 2))).toBe(2);
    expect(await memo.get(tx2, 'a', read('tx2 a', 3))).toBe(3);
    expect(reads).toEqual(['tx1 a', 'tx1 b', 'tx2 a']);
  });

  it('does not keep a failed read, and reads again after forget', async () => {
    const memo = new TransactionMemo<number>();
    const tx = {};
    await expect(memo.get(tx, 'a', () => Promise.reject(new Error('down')))).rejects.toThrow(
      'down',
    );
    expect(await memo.get(tx, 'a', () => Promise.resolve(1))).toBe(1);
    memo.forget(tx);
    expect(await memo.get(tx, 'a', () => Promise.resolve(2))).toBe(2);
  });
});
