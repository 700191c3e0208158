/**
 * Reads kept for the rest of one transaction: the events of a batch share a transaction and ask
 * the same question (an organization's endpoints, a network's policy, the live subscriptions).
 * Keyed by the transaction's EntityManager, so another transaction, a retry included, reads
 * again. A failed read is not kept; its error fails the transaction anyway.
 */
export class TransactionMemo<V, K = string> {
  private readonly byTransaction = new WeakMap<object, Map<K, Promise<V>>>();

  get(transaction: object, key: K, read: () => Promise<V>): Promise<V> {
    let reads = this.byTransaction.get(transaction);
    if (!reads) this.byTransaction.set(transaction, (reads = new Map()));
    let value = reads.get(key);
    if (!value) {
      const kept = reads;
      value = read();
      kept.set(key, value);
      value.catch(() => kept.delete(key));
    }
    return value;
  }

  /** The transaction changed what was read: its next `get` reads again. */
  forget(transaction: object): void {
    this.byTransaction.delete(transaction);
  }
}
